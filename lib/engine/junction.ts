/**
 * Junction's engine composed from ports: ingest, the rule set, the router on the log, the dispatcher, and the
 * management operations the HTTP API and the CLI expose. The local server and the Lambda handlers both use it.
 */
import { compileFilter } from '../core/cesql/index.ts';
import { validateEvent } from '../core/cloudevent.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { invalidRequest, JunctionError, notFound } from '../core/errors.ts';
import { explain, validatePattern } from '../core/pattern/index.ts';
import { validateRule } from '../core/rule.ts';
import type { Rule, Target } from '../core/rule-types.ts';
import { compileInput, type InputTransform } from '../core/transform.ts';
import type {
  AppendResult,
  Clock,
  DeadLetter,
  DeadLetterFilter,
  DeadLetters,
  EventLog,
  FunctionConfig,
  FunctionInfo,
  FunctionRunner,
  Ledger,
  RuleStore,
  Subscription,
  TargetDriver,
  TraceEntry,
  TraceStore,
} from '../ports.ts';
import { systemClock } from '../ports.ts';
import { Dispatcher, type EmittedContext } from './dispatcher.ts';
import { createFunctionDriver } from './function-driver.ts';
import { createIngest, type Ingest } from './ingest.ts';
import { Metrics } from './metrics.ts';
import { type QuotaOptions, SourceQuota } from './quota.ts';
import { Router } from './router.ts';
import { RuleMatcher } from './rule-matcher.ts';

export interface JunctionOptions {
  readonly log: EventLog;
  readonly rules: RuleStore;
  readonly ledger: Ledger;
  readonly deadLetters: DeadLetters;
  readonly traces: TraceStore;
  readonly functions: FunctionRunner;
  /** Drivers for `http`, `kafka` and `bus` targets (the `function` driver is built from `functions`). */
  readonly drivers?: Readonly<Partial<Record<Target['type'], TargetDriver>>>;
  readonly clock?: Clock;
  readonly metrics?: Metrics;
  /** @default 86400000 (24 h) */
  readonly dedupWindowMs?: number;
  /** How long finished deliveries and traces are kept. @default 604800000 (7 days) */
  readonly retentionMs?: number;
  /** Per-source ingest quotas (429 with Retry-After over the quota). @default none */
  readonly quota?: QuotaOptions;
  /** @default 30000 */
  readonly leaseMs?: number;
  /** @default 1000 */
  readonly pollMs?: number;
  /** The router's consumer group. @default 'junction-router' */
  readonly group?: string;
  /** Records per router batch. @default 500 */
  readonly maxBatch?: number;
  readonly onError?: (error: unknown) => void;
}

export interface PatternTestRequest {
  readonly pattern?: unknown;
  readonly filter?: unknown;
  readonly event?: unknown;
}

export interface PatternTestResult {
  readonly matches: boolean;
  readonly explanation?: unknown[];
}

export interface RedriveRequest {
  readonly all?: boolean;
  readonly rule?: string;
  readonly target?: string;
  readonly ids?: readonly string[];
}

const DAY = 86_400_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class Junction {
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly ingest: Ingest;
  readonly router: Router;
  readonly dispatcher: Dispatcher;
  readonly #o: JunctionOptions;
  readonly #matcher = new RuleMatcher();
  readonly #rules = new Map<string, Rule>();
  readonly #transforms = new WeakMap<Target, InputTransform>();
  readonly #quota: SourceQuota | undefined;
  #unwatch: (() => void) | undefined;
  #subscription: Subscription | undefined;
  #housekeeping: NodeJS.Timeout | undefined;

  private constructor(options: JunctionOptions) {
    this.#o = options;
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? new Metrics();
    this.#quota = options.quota === undefined ? undefined : new SourceQuota(options.quota, this.clock);
    this.ingest = createIngest({
      log: options.log,
      metrics: this.metrics,
      ...(options.dedupWindowMs === undefined ? {} : { dedupWindowMs: options.dedupWindowMs }),
    });
    this.dispatcher = new Dispatcher({
      ledger: options.ledger,
      deadLetters: options.deadLetters,
      traces: options.traces,
      clock: this.clock,
      metrics: this.metrics,
      lookup: (name) => this.#rules.get(name),
      drivers: { ...options.drivers, function: createFunctionDriver(options.functions) },
      transform: (event, rule, target) => this.#transform(event, rule, target),
      onEmitted: (returned, context) => this.#publishEmitted(returned, context),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    this.router = new Router({
      matcher: this.#matcher,
      ledger: options.ledger,
      traces: options.traces,
      clock: this.clock,
      metrics: this.metrics,
      dispatcher: this.dispatcher,
    });
    this.metrics.collect(async () => {
      const [ends, committed] = await Promise.all([
        options.log.endOffsets(),
        options.log.committed(options.group ?? 'junction-router'),
      ]);
      let lag = 0;
      for (const end of ends) {
        const c = committed.find((p) => p.partition === end.partition)?.offset ?? 0;
        lag += Math.max(0, end.offset - c);
      }
      this.metrics.set('junction_router_lag_events', lag, undefined, 'Events in the log not yet routed.');
      this.metrics.set(
        'junction_deliveries_pending',
        await options.ledger.pendingCount(),
        undefined,
        'Deliveries pending.',
      );
      this.metrics.set(
        'junction_dead_letters',
        await options.deadLetters.count(),
        undefined,
        'Dead letters stored.',
      );
    });
  }

  /** Builds the engine and loads the rules; call `start()` to consume the log and deliver. */
  static async open(options: JunctionOptions): Promise<Junction> {
    const junction = new Junction(options);
    for (const rule of await options.rules.list()) junction.#apply(rule);
    junction.#unwatch = options.rules.watch((change) => {
      if (change.kind === 'put') junction.#apply(change.rule);
      else junction.#remove(change.name);
    });
    return junction;
  }

  #apply(rule: Rule): void {
    this.#rules.set(rule.name, rule);
    this.#matcher.set(rule);
  }

  #remove(name: string): void {
    this.#rules.delete(name);
    this.#matcher.delete(name);
  }

  /** Consumes the log and delivers, until `stop()`. */
  async start(): Promise<void> {
    this.dispatcher.start();
    this.#subscription = await this.#o.log.subscribe({
      group: this.#o.group ?? 'junction-router',
      handler: (records) => this.router.processBatch(records),
      maxBatch: this.#o.maxBatch ?? 500,
    });
    const retention = this.#o.retentionMs ?? 7 * DAY;
    const prune = async () => {
      const before = this.clock.now() - retention;
      await this.#o.traces.prune(before);
      await this.#o.ledger.prune(Math.min(before, this.clock.now() - (this.#o.dedupWindowMs ?? DAY)));
    };
    this.#housekeeping = setInterval(() => void prune().catch((e) => this.#o.onError?.(e)), 3_600_000);
    this.#housekeeping.unref();
  }

  /** Stops consuming and waits for running deliveries; the ports stay open (their owner closes them). */
  async stop(): Promise<void> {
    if (this.#housekeeping) clearInterval(this.#housekeeping);
    this.#unwatch?.();
    await this.#subscription?.close();
    this.#subscription = undefined;
    await this.dispatcher.stop();
  }

  // ---- ingest ------------------------------------------------------------------------------------------

  publish(events: readonly CloudEvent[]): Promise<AppendResult[]> {
    return this.ingest.publish(events);
  }

  /** Applies the per-source quotas: per event, undefined (admitted) or a `RateLimited` error (HTTP 429). */
  admit(events: readonly CloudEvent[]): Array<JunctionError | undefined> {
    if (this.#quota === undefined) return events.map(() => undefined);
    const verdicts = this.#quota.admit(events.map((e) => e.source));
    const limited = verdicts.filter((v) => v !== undefined).length;
    if (limited > 0)
      this.metrics.inc(
        'junction_events_rate_limited_total',
        undefined,
        limited,
        'Events refused by a source quota.',
      );
    return verdicts;
  }

  #transform(event: CloudEvent, rule: Rule, target: Target): CloudEvent {
    if (target.input === undefined) return event;
    let transform = this.#transforms.get(target);
    if (!transform) {
      transform = compileInput(target.input, 'input');
      this.#transforms.set(target, transform);
    }
    const { body, contentType } = transform(event, { ruleName: rule.name, targetId: target.id });
    const { data: _data, data_base64: _b64, ...attributes } = event;
    let data: unknown = body;
    if (contentType === 'application/json') {
      try {
        data = JSON.parse(body);
      } catch {
        data = body;
      }
    }
    return Object.freeze({ ...attributes, datacontenttype: contentType, data });
  }

  async #publishEmitted(
    returned: readonly unknown[],
    context: EmittedContext,
  ): Promise<Array<{ source: string; id: string }>> {
    const { delivery, rule, target } = context;
    const fn = target.type === 'function' ? target.function : target.id;
    const events = returned.map((raw, i) => {
      if (!isObject(raw)) {
        throw new JunctionError(
          'InvalidEvent',
          `function "${fn}" returned a ${typeof raw} at index ${i}; return CloudEvent objects`,
        );
      }
      return validateEvent({
        specversion: '1.0',
        source: `/functions/${fn}`,
        // Deterministic, so a retried invocation's events are deduplicated (idempotent publish).
        id: `${delivery.id}.${rule.name}.${target.id}.${i}`,
        ...raw,
        causationid: delivery.event.id,
        causationsource: delivery.event.source,
      });
    });
    await this.publish(events);
    return events.map((e) => ({ source: e.source, id: e.id }));
  }

  // ---- rules ------------------------------------------------------------------------------------------

  async putRule(name: string, body: unknown): Promise<{ rule: Rule; created: boolean }> {
    const previous = await this.#o.rules.get(name);
    const rule = validateRule(name, body, this.clock.now(), previous);
    const { created } = await this.#o.rules.put(rule);
    this.#apply(rule);
    return { rule, created };
  }

  async getRule(name: string): Promise<Rule> {
    const rule = await this.#o.rules.get(name);
    if (!rule) throw notFound(`rule "${name}"`);
    return rule;
  }

  listRules(): Promise<Rule[]> {
    return this.#o.rules.list();
  }

  async deleteRule(name: string): Promise<void> {
    if (!(await this.#o.rules.delete(name))) throw notFound(`rule "${name}"`);
    this.#remove(name);
  }

  /** `POST /patterns/test`: matches a pattern and/or a CESQL filter against any JSON object. */
  testPattern(request: unknown): PatternTestResult {
    if (!isObject(request))
      throw invalidRequest('the body must be a JSON object with "event" and "pattern" or "filter"');
    const { pattern, filter, event } = request as PatternTestRequest;
    if (!isObject(event)) throw invalidRequest('"event" must be a JSON object', 'event');
    if (pattern === undefined && filter === undefined) {
      throw invalidRequest('give a "pattern", a "filter", or both', 'pattern');
    }
    let matches = true;
    const explanation: unknown[] = [];
    if (pattern !== undefined) {
      validatePattern(pattern);
      const result = explain(pattern, event);
      matches = result.matches;
      explanation.push(...result.explanation);
    }
    if (filter !== undefined) {
      if (typeof filter !== 'string') throw invalidRequest('"filter" must be a CESQL string', 'filter');
      const compiled = compileFilter(filter, { path: 'filter' });
      const { value, errors } = compiled.evaluate(event);
      if (value !== true) {
        matches = false;
        explanation.push({
          path: 'filter',
          condition: filter,
          actual: value,
          reason: 'the filter did not evaluate to true',
          errors,
        });
      }
    }
    return matches ? { matches } : { matches, explanation };
  }

  // ---- functions --------------------------------------------------------------------------------------

  deployFunction(name: string, source: Uint8Array, config?: FunctionConfig): Promise<FunctionInfo> {
    return this.#o.functions.deploy(name, source, config);
  }

  listFunctions(): Promise<FunctionInfo[]> {
    return this.#o.functions.list();
  }

  async getFunction(name: string): Promise<FunctionInfo> {
    const info = await this.#o.functions.get(name);
    if (!info) throw notFound(`function "${name}"`);
    return info;
  }

  async deleteFunction(name: string): Promise<void> {
    if (!(await this.#o.functions.delete(name))) throw notFound(`function "${name}"`);
  }

  // ---- traces and dead letters ------------------------------------------------------------------------

  /** An event's journey. Without `source`, the id must identify one event. */
  async trace(id: string, source?: string): Promise<{ source: string; id: string; entries: TraceEntry[] }> {
    let src = source;
    if (src === undefined) {
      const sources = await this.#o.traces.sourcesOf(id, 10);
      if (sources.length === 0) throw notFound(`event "${id}"`);
      if (sources.length > 1) {
        throw new JunctionError(
          'InvalidRequest',
          `several events have the id "${id}"; add ?source=… (one of ${sources.join(', ')})`,
          {
            field: 'source',
            details: { sources },
          },
        );
      }
      src = sources[0] as string;
    }
    const entries = await this.#o.traces.get(src, id);
    if (entries.length === 0) throw notFound(`event "${id}" from source "${src}"`);
    return { source: src, id, entries };
  }

  listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.#o.deadLetters.list(filter);
  }

  /** Re-delivers dead letters to their target, with the same idempotency key. */
  async redrive(request: RedriveRequest): Promise<{ redriven: number; skipped: number }> {
    if (!request.all && request.rule === undefined && request.ids === undefined) {
      throw invalidRequest('say what to redrive: {"all": true}, {"rule": "name"} or {"ids": [...]}', 'ids');
    }
    for (const field of ['rule', 'target'] as const) {
      if (request[field] !== undefined && typeof request[field] !== 'string') {
        throw invalidRequest(`${field} must be a string`, field);
      }
    }
    if (
      request.ids !== undefined &&
      (!Array.isArray(request.ids) ||
        request.ids.length > 1000 ||
        request.ids.some((id) => typeof id !== 'string'))
    ) {
      throw invalidRequest('ids must be an array of at most 1000 dead-letter ids (strings)', 'ids');
    }
    const letters: DeadLetter[] = [];
    const filter: DeadLetterFilter = {
      ...(request.rule === undefined ? {} : { rule: request.rule }),
      ...(request.target === undefined ? {} : { target: request.target }),
      ...(request.ids === undefined ? {} : { ids: request.ids }),
      limit: 1000,
    };
    // Pages go back in time (newest first, `to` exclusive, so the oldest instant of a page is read again); a page
    // with nothing new ends the walk, which would otherwise list the same first page forever.
    const seen = new Set<string>();
    for (let to: number | undefined; ; ) {
      const page = await this.#o.deadLetters.list(to === undefined ? filter : { ...filter, to });
      const fresh = page.filter((l) => !seen.has(l.dlId));
      for (const letter of fresh) seen.add(letter.dlId);
      letters.push(...fresh);
      if (page.length < 1000 || fresh.length === 0 || request.ids) break;
      to = Math.min(...page.map((l) => l.at)) + 1;
    }
    const now = this.clock.now();
    let redriven = 0;
    let skipped = 0;
    for (const letter of letters) {
      const target = this.#rules.get(letter.rule)?.targets.find((t) => t.id === letter.target);
      const delivery = {
        source: letter.source,
        id: letter.id,
        rule: letter.rule,
        target: letter.target,
        event: letter.event,
        createdAt: now,
        dueAt: now + this.dispatcher.leaseMs,
        attempts: [],
        redriveOf: letter.dlId,
        ...(letter.position === undefined ? {} : { position: letter.position }),
      };
      const reopened = await this.#o.ledger.reopen(delivery, {
        keepDelivered: target?.delivery === 'exactly-once',
      });
      if (!reopened) {
        const state = (await this.#o.ledger.get(delivery))?.entry.state;
        if (state === 'pending' || state === 'in-flight') {
          // The delivery is live: the dispatcher is closing it right now (the letter is written first) or it was
          // taken up again. The letter stays, for a redrive once it is closed; removing it could lose the event.
          skipped++;
          continue;
        }
      }
      await this.#o.deadLetters.remove([letter.dlId]);
      await this.#o.traces.record([
        {
          source: letter.event.source,
          id: letter.event.id,
          at: now,
          kind: 'redriven',
          rule: letter.rule,
          target: letter.target,
          detail: { dlId: letter.dlId, ...(reopened ? {} : { skipped: 'already delivered (exactly-once)' }) },
        },
      ]);
      if (reopened) {
        redriven++;
        this.dispatcher.submit([delivery]);
      } else {
        skipped++;
      }
    }
    return { redriven, skipped };
  }

  // ---- health -----------------------------------------------------------------------------------------

  async health(): Promise<Record<string, unknown>> {
    const ends = await this.#o.log.endOffsets();
    return {
      status: 'ok',
      partitions: this.#o.log.partitions,
      rules: this.#rules.size,
      events: ends.reduce((n, p) => n + p.offset, 0),
      deliveriesInFlight: this.dispatcher.inFlight,
    };
  }
}
