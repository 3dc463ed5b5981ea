/**
 * The connectors of a bus (issue #18): declared through the API, stored, and each run on its own with a supervisor.
 * A connector's batches go through the bus's own ingest (quotas, schemas, then the idempotent publish), so a source
 * that reads something again publishes nothing twice; a batch the bus refuses (a quota, the log unavailable) is read
 * again later, never dropped. Records that cannot become events, and events the bus's schemas refuse, are
 * dead-lettered (rule `connector/<name>`) with their reason.
 * A connector that fails (its system unreachable) is retried with a growing backoff; it never holds up the bus or
 * another connector.
 */

import type { CloudEvent } from '../core/cloudevent-types.ts';
import {
  type ConnectorDefinition,
  type ConnectorSpec,
  MAX_CONNECTORS,
  redactConnectorSpec,
  validateConnectorName,
  validateConnectorSpec,
} from '../core/connector.ts';
import { JunctionError, notFound } from '../core/errors.ts';
import type {
  AppendResult,
  Clock,
  ConnectorStore,
  DeadLetter,
  DeadLetters,
  InvalidSourceRecord,
  Source,
  SourceBatch,
  SourceStatus,
} from '../ports.ts';
import type { Metrics } from './metrics.ts';

/** The rule name of a connector's dead letters. */
export function connectorRule(name: string): string {
  return `connector/${name}`;
}

/** The type of the event a connector's dead letter holds (the record it could not turn into an event). */
export const CONNECTOR_LETTER_TYPE = 'junction.connector.invalid-record';

/**
 * The dead letter of a record a connector could not turn into an event: rule `connector/<name>`, an id from where
 * the record was read (so the record read again replaces its letter), the record and the reason. Shared by the
 * embedded host and the AWS connector function.
 */
export function connectorDeadLetter(name: string, record: InvalidSourceRecord, now: number): DeadLetter {
  return {
    dlId: `${name}:${record.position}`,
    source: `junction:connectors/${name}`,
    id: record.position,
    rule: connectorRule(name),
    target: name,
    event: Object.freeze({
      specversion: '1.0',
      id: record.position,
      source: `junction:connectors/${name}`,
      type: CONNECTOR_LETTER_TYPE,
      time: new Date(now).toISOString(),
      datacontenttype: 'application/json',
      data: record.record,
    }) as CloudEvent,
    reason: record.reason,
    attempts: [],
    at: now,
  };
}

/**
 * The dead letter of an event the bus refuses for what it is (its data breaks the schema bound to it): it would be
 * refused on every reading, so it is dead-lettered and the batch goes on. Shared with the AWS connector function.
 */
export function connectorRefusedLetter(
  name: string,
  event: CloudEvent,
  verdict: JunctionError,
  now: number,
): DeadLetter {
  return {
    dlId: `${name}:${event.source}:${event.id}`,
    source: event.source,
    id: event.id,
    rule: connectorRule(name),
    target: name,
    event,
    reason: `${verdict.code}: ${verdict.message}`,
    attempts: [],
    at: now,
  };
}

export type ConnectorState = 'starting' | 'running' | 'failed' | 'paused';

/** A connector as `GET /connectors/{name}` shows it: its definition and how it runs. */
export interface ConnectorView {
  readonly name: string;
  readonly spec: ConnectorSpec;
  readonly state: ConnectorState;
  readonly paused: boolean;
  readonly position: Readonly<Record<string, number>>;
  readonly lag?: number;
  /** Events taken into the log since the process started (duplicates not counted). */
  readonly events: number;
  readonly duplicates: number;
  readonly invalid: number;
  /** Events taken per second over the last 10 s. */
  readonly eventsPerSecond: number;
  readonly lastError?: { readonly message: string; readonly at: string };
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ConnectorHostOptions {
  readonly store: ConnectorStore;
  /** The reader of a connector (the composition root knows the technologies). */
  readonly open: (name: string, spec: ConnectorSpec) => Source;
  /**
   * The bus's gate (quotas, then schemas): per event, undefined (admitted) or why not. A `RateLimited` event holds
   * its batch back (read again later); one refused otherwise (a `SchemaViolation`) is dead-lettered with the reason.
   */
  readonly admit: (events: readonly CloudEvent[]) => Array<JunctionError | undefined>;
  /** The bus's idempotent publish. */
  readonly publish: (events: readonly CloudEvent[]) => Promise<AppendResult[]>;
  readonly deadLetters: DeadLetters;
  readonly metrics: Metrics;
  readonly clock: Clock;
  /** Whether a kafka connector may leave out `brokers` (the bus runs on Kafka). */
  readonly hasOwnKafka: boolean;
  /** Further checks of a spec at put (the composition root's address policy); throws a JunctionError to refuse. */
  readonly checkSpec?: (spec: ConnectorSpec) => void;
  readonly onWarning?: (message: string, error?: unknown) => void;
}

const RATE_WINDOW_S = 10;
const RESTART_BASE_MS = 1000;
const RESTART_MAX_MS = 60_000;

/** Longest wait for a quota between two offers of the events it held back (its Retry-After, capped). */
export const QUOTA_WAIT_MAX_MS = 30_000;

/**
 * A connector's events through the bus's gate (quotas, then schemas) in rounds: what it admits is taken (published) at
 * once, what it refuses for what it is (a schema) is handed to `refuse` (dead letters), and what a quota holds back
 * waits for the quota's Retry-After (`wait`, at most `QUOTA_WAIT_MAX_MS`) and is offered again, until all went one
 * way or the other. `wait` answers false to give up: the 429 is thrown, and the caller's source reads the batch
 * again later (what was taken is then a duplicate). So a batch larger than the quota's burst gets through, each event
 * takes one token and is checked against its schema once; re-reading the whole batch at each 429 never did (the
 * tokens went to the events admitted before the refusal, none of which was published).
 */
export async function admitInRounds(
  events: readonly CloudEvent[],
  o: {
    readonly admit: (events: readonly CloudEvent[]) => Array<JunctionError | undefined>;
    readonly take: (admitted: readonly CloudEvent[]) => Promise<void>;
    readonly refuse: (refused: ReadonlyArray<{ event: CloudEvent; verdict: JunctionError }>) => Promise<void>;
    readonly wait: (ms: number, limited: JunctionError) => Promise<boolean>;
  },
): Promise<void> {
  let pending = events;
  while (pending.length > 0) {
    const verdicts = o.admit(pending);
    const admitted: CloudEvent[] = [];
    const held: CloudEvent[] = [];
    const refused: Array<{ event: CloudEvent; verdict: JunctionError }> = [];
    let limited: JunctionError | undefined;
    pending.forEach((event, i) => {
      const verdict = verdicts[i];
      if (verdict === undefined) admitted.push(event);
      else if (verdict.code === 'RateLimited') {
        held.push(event);
        limited ??= verdict;
      } else refused.push({ event, verdict });
    });
    if (refused.length > 0) await o.refuse(refused);
    if (admitted.length > 0) await o.take(admitted);
    if (limited === undefined) return;
    const seconds = (limited.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds ?? 1;
    if (!(await o.wait(Math.min(QUOTA_WAIT_MAX_MS, Math.max(1, seconds) * 1000), limited))) throw limited;
    pending = held;
  }
}

/** One connector at run time. */
class Runner {
  readonly name: string;
  definition: ConnectorDefinition;
  state: ConnectorState = 'starting';
  source: Source | undefined;
  lastError: { message: string; at: number } | undefined;
  events = 0;
  duplicates = 0;
  invalid = 0;
  failures = 0;
  restartTimer: NodeJS.Timeout | undefined;
  stopped = false;
  /** Ends a wait for a quota under way (see `#handle`). */
  wake: (() => void) | undefined;
  /** The source's last status, shown while it does not run (paused, failed, restarting). */
  lastStatus: SourceStatus = { position: {} };
  /** Events per second, the last `RATE_WINDOW_S` seconds: [second, count]. */
  readonly buckets: Array<[number, number]> = [];

  constructor(definition: ConnectorDefinition) {
    this.name = definition.name;
    this.definition = definition;
  }

  count(n: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const last = this.buckets.at(-1);
    if (last !== undefined && last[0] === second) last[1] += n;
    else this.buckets.push([second, n]);
    while (this.buckets.length > 0 && (this.buckets[0] as [number, number])[0] <= second - RATE_WINDOW_S) {
      this.buckets.shift();
    }
  }

  rate(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    let total = 0;
    for (const [s, n] of this.buckets) if (s > second - RATE_WINDOW_S) total += n;
    return Math.round((total / RATE_WINDOW_S) * 10) / 10;
  }
}

export class Connectors {
  readonly #o: ConnectorHostOptions;
  readonly #runners = new Map<string, Runner>();
  #closed = false;

  constructor(options: ConnectorHostOptions) {
    this.#o = options;
    options.metrics.declare(
      'junction_connector_events_total',
      'counter',
      'Events a connector took into the log.',
    );
    options.metrics.declare(
      'junction_connector_invalid_total',
      'counter',
      'Records a connector could not turn into events, or whose events the bus refused (a schema): dead-lettered.',
    );
    options.metrics.declare('junction_connector_lag_records', 'gauge', 'What a connector has left to read.');
    options.metrics.declare(
      'junction_connector_up',
      'gauge',
      '1 while a connector runs, 0 when failed or paused.',
    );
    options.metrics.collect(async () => {
      for (const runner of this.#runners.values()) {
        const labels = { connector: runner.name };
        options.metrics.set('junction_connector_up', runner.state === 'running' ? 1 : 0, labels);
        const status = await this.#status(runner);
        if (status.lag !== undefined)
          options.metrics.set('junction_connector_lag_records', status.lag, labels);
      }
    });
  }

  /** Starts every stored connector that is not paused. */
  async start(): Promise<void> {
    for (const definition of await this.#o.store.list()) {
      const runner = new Runner(definition);
      this.#runners.set(definition.name, runner);
      if (definition.paused) runner.state = 'paused';
      else this.#launch(runner);
    }
  }

  /** Creates or replaces a connector (a replaced one restarts with its new spec; paused stays paused). */
  async put(name: string, body: unknown): Promise<{ connector: ConnectorView; created: boolean }> {
    validateConnectorName(name);
    const spec = validateConnectorSpec(body, { hasOwnKafka: this.#o.hasOwnKafka });
    this.#o.checkSpec?.(spec);
    const existing = this.#runners.get(name);
    if (existing === undefined && this.#runners.size >= MAX_CONNECTORS) {
      throw new JunctionError('Conflict', `this bus has ${MAX_CONNECTORS} connectors, the most it holds`);
    }
    const now = this.#o.clock.now();
    const definition: ConnectorDefinition = Object.freeze({
      name,
      spec,
      paused: existing?.definition.paused ?? false,
      createdAt: existing?.definition.createdAt ?? now,
      updatedAt: now,
    });
    await this.#o.store.put(definition);
    if (existing !== undefined) await this.#stop(existing);
    const runner = new Runner(definition);
    this.#runners.set(name, runner);
    if (definition.paused) runner.state = 'paused';
    else this.#launch(runner);
    return { connector: await this.#view(runner), created: existing === undefined };
  }

  async get(name: string): Promise<ConnectorView> {
    return this.#view(this.#runner(name));
  }

  async list(): Promise<ConnectorView[]> {
    const runners = [...this.#runners.values()].sort((a, b) => a.name.localeCompare(b.name));
    return Promise.all(runners.map((runner) => this.#view(runner)));
  }

  /** Stops reading (the position stays committed); `resume` goes on from it. */
  async pause(name: string): Promise<ConnectorView> {
    const runner = this.#runner(name);
    if (!runner.definition.paused) {
      runner.definition = Object.freeze({
        ...runner.definition,
        paused: true,
        updatedAt: this.#o.clock.now(),
      });
      await this.#o.store.put(runner.definition);
      await this.#stop(runner);
      runner.stopped = false;
      runner.state = 'paused';
    }
    return this.#view(runner);
  }

  async resume(name: string): Promise<ConnectorView> {
    const runner = this.#runner(name);
    if (runner.definition.paused) {
      runner.definition = Object.freeze({
        ...runner.definition,
        paused: false,
        updatedAt: this.#o.clock.now(),
      });
      await this.#o.store.put(runner.definition);
      runner.failures = 0;
      this.#launch(runner);
    }
    return this.#view(runner);
  }

  /** Stops and forgets a connector (its position stays in its system: a new one with the same group goes on). */
  async delete(name: string): Promise<void> {
    const runner = this.#runner(name);
    await this.#stop(runner);
    this.#runners.delete(name);
    await this.#o.store.delete(name);
  }

  /** Stops every connector, each after its running batch. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#runners.values()].map((runner) => this.#stop(runner)));
  }

  #runner(name: string): Runner {
    validateConnectorName(name);
    const runner = this.#runners.get(name);
    if (runner === undefined) throw notFound(`connector ${name}`);
    return runner;
  }

  #launch(runner: Runner): void {
    if (this.#closed) return;
    runner.stopped = false;
    runner.state = 'starting';
    const source = this.#o.open(runner.name, runner.definition.spec);
    runner.source = source;
    source
      .start({
        handle: (batch) => this.#handle(runner, batch),
        onWarning: (message, error) => {
          this.#o.onWarning?.(`connector ${runner.name}: ${message}`, error);
        },
      })
      .then(
        () => {
          if (runner.source !== source) return;
          if (runner.state === 'starting') runner.state = 'running';
          runner.failures = 0;
        },
        (error: unknown) => {
          if (runner.source !== source) return;
          runner.source = undefined;
          this.#failed(runner, error);
          void source.close().catch(() => undefined);
          if (runner.stopped || this.#closed) return;
          runner.failures += 1;
          const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (runner.failures - 1));
          runner.restartTimer = setTimeout(() => {
            runner.restartTimer = undefined;
            if (!runner.stopped && !this.#closed) this.#launch(runner);
          }, delay);
          runner.restartTimer.unref();
        },
      );
  }

  #failed(runner: Runner, error: unknown): void {
    runner.state = 'failed';
    runner.lastError = {
      message: error instanceof Error ? error.message : String(error),
      at: this.#o.clock.now(),
    };
    this.#o.onWarning?.(`connector ${runner.name} failed: ${runner.lastError.message}`);
  }

  /** A batch into the log: invalid records dead-lettered, then the events through quotas and the idempotent publish. */
  async #handle(runner: Runner, batch: SourceBatch): Promise<void> {
    try {
      const now = this.#o.clock.now();
      for (const record of batch.invalid) {
        await this.#o.deadLetters.add(connectorDeadLetter(runner.name, record, now));
      }
      if (batch.invalid.length > 0) {
        runner.invalid += batch.invalid.length;
        this.#o.metrics.inc(
          'junction_connector_invalid_total',
          { connector: runner.name },
          batch.invalid.length,
        );
      }
      await admitInRounds(batch.events, {
        admit: (events) => this.#o.admit(events),
        refuse: async (refused) => {
          for (const { event, verdict } of refused) {
            await this.#o.deadLetters.add(connectorRefusedLetter(runner.name, event, verdict, now));
          }
          runner.invalid += refused.length;
          this.#o.metrics.inc('junction_connector_invalid_total', { connector: runner.name }, refused.length);
        },
        take: async (admitted) => {
          const results = await this.#o.publish(admitted);
          const duplicates = results.filter((r) => r.duplicate).length;
          const taken = results.length - duplicates;
          runner.events += taken;
          runner.duplicates += duplicates;
          runner.count(taken, this.#o.clock.now());
          if (taken > 0)
            this.#o.metrics.inc('junction_connector_events_total', { connector: runner.name }, taken);
        },
        wait: async (ms, limited) => {
          // Backpressure, not a failure: the connector keeps running and waits for the quota. Stopped meanwhile, the
          // source reads the batch again at its next start (what was published is dropped then as a duplicate).
          runner.lastError = { message: limited.message, at: this.#o.clock.now() };
          await this.#waitForQuota(runner, ms);
          return !runner.stopped && !this.#closed;
        },
      });
      if (runner.state !== 'paused') runner.state = 'running';
    } catch (error) {
      if (!(error instanceof JunctionError && error.code === 'RateLimited')) this.#failed(runner, error);
      throw error;
    }
  }

  /** Waits `ms` for a quota to refill; ends early when the connector is stopped (paused, deleted, the bus closing). */
  #waitForQuota(runner: Runner, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        runner.wake = undefined;
        resolve();
      }
      runner.wake = done;
    });
  }

  async #stop(runner: Runner): Promise<void> {
    runner.stopped = true;
    runner.wake?.();
    clearTimeout(runner.restartTimer);
    runner.restartTimer = undefined;
    const source = runner.source;
    if (source !== undefined) await this.#status(runner);
    runner.source = undefined;
    await source?.close().catch((error: unknown) => {
      this.#o.onWarning?.(`connector ${runner.name}: closing failed`, error);
    });
  }

  async #status(runner: Runner): Promise<SourceStatus> {
    if (runner.source === undefined) return runner.lastStatus;
    try {
      const status = await runner.source.status();
      if (Object.keys(status.position).length > 0) runner.lastStatus = status;
      return status;
    } catch {
      return runner.lastStatus;
    }
  }

  async #view(runner: Runner): Promise<ConnectorView> {
    const status = await this.#status(runner);
    const { definition } = runner;
    return {
      name: runner.name,
      // A password in a connection string is never shown.
      spec: redactConnectorSpec(definition.spec),
      state: runner.state,
      paused: definition.paused,
      position: status.position,
      ...(status.lag === undefined ? {} : { lag: status.lag }),
      events: runner.events,
      duplicates: runner.duplicates,
      invalid: runner.invalid,
      eventsPerSecond: runner.rate(this.#o.clock.now()),
      ...(runner.lastError === undefined
        ? {}
        : {
            lastError: { message: runner.lastError.message, at: new Date(runner.lastError.at).toISOString() },
          }),
      createdAt: new Date(definition.createdAt).toISOString(),
      updatedAt: new Date(definition.updatedAt).toISOString(),
    };
  }
}
