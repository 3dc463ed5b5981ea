/**
 * The EventBridge management API (AWS JSON 1.1, `X-Amz-Target: AWSEvents.<Op>`) over Junction's rules, targets,
 * retained log and replays, so `aws events …`, boto3 and `@aws-sdk/client-eventbridge` manage the bus
 * (docs/eventbridge.md). Answers and errors are in AWS's shapes; the mapping lives in lib/core/eventbridge-api.ts.
 */

import { type JunctionError, toJunctionError } from '../core/errors.ts';
import { awsErrorBody } from '../core/eventbridge.ts';
import {
  type ArnContext,
  archiveArn,
  archiveNameOfArn,
  awsCodeOf,
  awsError,
  busArn,
  busNameOf,
  checkBus,
  DEFAULT_ARN_CONTEXT,
  DEFAULT_BUS_NAME,
  describeRule,
  describeTarget,
  epochSeconds,
  LOG_ARCHIVE_NAME,
  MAX_TARGETS_PER_CALL,
  optionalBoolean,
  optionalString,
  page,
  params,
  parseArn,
  replayArn,
  replayState,
  requiredName,
  ruleArn,
  ruleBodyOfPutRule,
  ruleNameOfArn,
  sameDestination,
  targetBodyOf,
  targetField,
  toEpochSeconds,
} from '../core/eventbridge-api.ts';
import { RULE_LIMITS, validateTarget } from '../core/rule.ts';
import type { Rule, Target } from '../core/rule-types.ts';
import { isObject } from '../core/values.ts';
import type { Junction } from '../engine/junction.ts';
import type { ReplayStatus } from '../engine/replay.ts';
import type { Extensions } from './extensions.ts';

export interface EventBridgeApiOptions {
  readonly junction: Junction;
  /** The bus this API serves: `EventBusName` must name it. @default 'default' */
  readonly busName?: string;
  /** Replays (StartReplay and the rest answer OperationDisabledException without). @default none */
  readonly extensions?: Extensions;
  /**
   * Whether the bus `to` accepts events forwarded by the rules of the bus `from` (its `acceptFrom`): a target on
   * another bus of the deployment needs it when the caller may not publish there. @default no
   */
  readonly busAccepts?: (from: string, to: string) => boolean;
  /** The region and account the answered ARNs carry. @default us-east-1, 000000000000 */
  readonly arn?: Partial<ArnContext>;
  /** Hears unexpected errors (answered as InternalException, 500). */
  readonly onError?: (error: unknown) => void;
}

export interface EventBridgeAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Who calls, as the auth layer says (absent on an open bus: anyone may do anything). */
export interface EventBridgeCaller {
  /** Whether the caller may make a call that needs `need` on `bus`. */
  readonly may?: (need: 'publish' | 'read' | 'manage', bus: string) => boolean;
}

/** Answers one operation (`PutRule`, …), or undefined for an operation this module does not serve. */
export type EventBridgeApi = (
  operation: string,
  body: unknown,
  caller?: EventBridgeCaller,
) => Promise<EventBridgeAnswer | undefined>;

/** The event-bus operations: they come with several buses (issue #13). */
const BUS_OPERATIONS = new Set([
  'CreateEventBus',
  'DeleteEventBus',
  'DescribeEventBus',
  'ListEventBuses',
  'UpdateEventBus',
  'PutPermission',
  'RemovePermission',
]);

type Params = Record<string, unknown>;

export function createEventBridgeApi(options: EventBridgeApiOptions): EventBridgeApi {
  const { junction, extensions } = options;
  const busName = options.busName ?? DEFAULT_BUS_NAME;
  const ctx: ArnContext = { ...DEFAULT_ARN_CONTEXT, ...options.arn };
  /** A bus's one archive, its retained log, is named as the bus (`default` for the default bus). */
  const archiveName = busName === DEFAULT_BUS_NAME ? LOG_ARCHIVE_NAME : busName;
  const locks = new Map<string, Promise<unknown>>();

  /** Runs read-modify-write steps on one rule one at a time (in this process). */
  function locked<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = locks.get(name) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.catch(() => {});
    locks.set(name, tail);
    void tail.then(() => {
      if (locks.get(name) === tail) locks.delete(name);
    });
    return run;
  }

  async function storedRule(name: string, field = 'Name'): Promise<Rule> {
    try {
      return await junction.getRule(name);
    } catch (error) {
      if (toJunctionError(error).code === 'NotFound') {
        throw awsError(
          'ResourceNotFoundException',
          `Rule ${name} does not exist on EventBus ${busName}.`,
          field,
        );
      }
      throw error;
    }
  }

  async function maybeRule(name: string): Promise<Rule | undefined> {
    try {
      return await junction.getRule(name);
    } catch (error) {
      if (toJunctionError(error).code === 'NotFound') return undefined;
      throw error;
    }
  }

  /** The REST body of a stored rule, with other targets. */
  function bodyOf(rule: Rule, targets: readonly unknown[]): Params {
    return {
      ...(rule.description === undefined ? {} : { description: rule.description }),
      enabled: rule.enabled,
      ...(rule.pattern === undefined ? {} : { pattern: rule.pattern }),
      ...(rule.filter === undefined ? {} : { filter: rule.filter }),
      targets,
    };
  }

  function needReplays(): Required<Pick<Extensions, 'replay' | 'replayStatus' | 'replays'>> {
    if (
      extensions?.replay === undefined ||
      extensions.replayStatus === undefined ||
      extensions.replays === undefined
    ) {
      throw awsError('OperationDisabledException', 'this deployment of the bus does not serve replays');
    }
    return { replay: extensions.replay, replayStatus: extensions.replayStatus, replays: extensions.replays };
  }

  function checkArchiveSource(p: Params, required: boolean): void {
    const source = p.EventSourceArn;
    if (source === undefined || source === null) {
      if (required) throw awsError('ValidationException', 'EventSourceArn is required', 'EventSourceArn');
      return;
    }
    if (typeof source !== 'string' || busNameOf(source) !== busName) {
      throw awsError(
        'ResourceNotFoundException',
        `Event bus ${String(source)} does not exist.`,
        'EventSourceArn',
      );
    }
  }

  function archive(): Params {
    return {
      ArchiveArn: archiveArn(ctx, archiveName),
      ArchiveName: archiveName,
      EventSourceArn: busArn(ctx, busName),
      Description: "the bus's retained log: every event, kept as long as the log keeps it",
      State: 'ENABLED',
      RetentionDays: Math.max(1, Math.ceil(junction.retentionMs / 86_400_000)),
    };
  }

  function describeReplay(s: ReplayStatus): Params {
    return {
      ReplayName: s.name,
      ReplayArn: replayArn(ctx, s.name),
      State: replayState(s.state),
      ...(s.error === undefined ? {} : { StateReason: s.error }),
      EventSourceArn: archiveArn(ctx, archiveName),
      Destination: {
        Arn: busArn(ctx, busName),
        ...(s.rule === undefined ? {} : { FilterArns: [ruleArn(ctx, s.rule, busName)] }),
      },
      EventStartTime: toEpochSeconds(s.from),
      EventEndTime: toEpochSeconds(s.to),
      ReplayStartTime: toEpochSeconds(s.startedAt),
      ...(s.endedAt === undefined
        ? {}
        : { EventLastReplayedTime: toEpochSeconds(s.endedAt), ReplayEndTime: toEpochSeconds(s.endedAt) }),
    };
  }

  async function replayList(): Promise<ReplayStatus[]> {
    const listed = (await needReplays().replays()) as { replays?: ReplayStatus[] };
    return listed.replays ?? [];
  }

  async function replayNamed(p: Params): Promise<ReplayStatus> {
    const name = requiredName(p, 'ReplayName');
    try {
      return (await needReplays().replayStatus(name)) as ReplayStatus;
    } catch (error) {
      if (toJunctionError(error).code === 'NotFound') {
        throw awsError('ResourceNotFoundException', `Replay ${name} does not exist.`, 'ReplayName');
      }
      throw error;
    }
  }

  function targetsParam(p: Params, field: 'Targets' | 'Ids'): unknown[] {
    const value = p[field];
    if (!Array.isArray(value) || value.length < 1 || value.length > MAX_TARGETS_PER_CALL) {
      throw awsError(
        'ValidationException',
        `${field} must be an array of 1 to ${MAX_TARGETS_PER_CALL} entries`,
        field,
      );
    }
    return value;
  }

  /**
   * A target on another bus of the deployment publishes there: as for `PUT /rules`, the caller must be allowed to
   * publish on that bus, or that bus must accept this one (`acceptFrom`).
   */
  function checkBusTarget(target: Target, caller: EventBridgeCaller): void {
    if (target.type !== 'bus' || target.bus === undefined || caller.may === undefined) return;
    if (caller.may('publish', target.bus) || (options.busAccepts?.(busName, target.bus) ?? false)) return;
    throw awsError(
      'AccessDeniedException',
      `a rule of the bus ${busName} may forward to the bus ${target.bus} only when its author may publish there or ${target.bus} lists ${busName} in its acceptFrom`,
    );
  }

  const operations: Record<string, (p: Params, caller: EventBridgeCaller) => Promise<unknown>> = {
    async PutRule(p) {
      checkBus(p, 'EventBusName', busName);
      const name = requiredName(p, 'Name');
      return locked(name, async () => {
        const previous = await maybeRule(name);
        await junction.putRule(name, ruleBodyOfPutRule(p, previous), { allowNoTargets: true });
        return { RuleArn: ruleArn(ctx, name, busName) };
      });
    },

    async DescribeRule(p) {
      checkBus(p, 'EventBusName', busName);
      const rule = await storedRule(requiredName(p, 'Name'));
      return { ...describeRule(rule, ctx, busName), CreatedBy: ctx.account };
    },

    async ListRules(p) {
      checkBus(p, 'EventBusName', busName);
      const prefix = optionalString(p, 'NamePrefix', 64) ?? '';
      const rules = (await junction.listRules()).filter((r) => r.name.startsWith(prefix));
      const { items, nextToken } = page(rules, (r) => r.name, p);
      return {
        Rules: items.map((r) => describeRule(r, ctx, busName)),
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      };
    },

    async DeleteRule(p) {
      checkBus(p, 'EventBusName', busName);
      const name = requiredName(p, 'Name');
      const force = optionalBoolean(p, 'Force');
      return locked(name, async () => {
        const rule = await maybeRule(name);
        if (rule === undefined) return {}; // EventBridge: deleting a rule that does not exist succeeds.
        if (rule.targets.length > 0 && !force) {
          throw awsError(
            'ValidationException',
            `Rule can't be deleted since it has targets. Remove them first (RemoveTargets) or pass Force.`,
            'Name',
          );
        }
        await junction.deleteRule(name);
        return {};
      });
    },

    async EnableRule(p) {
      checkBus(p, 'EventBusName', busName);
      const name = requiredName(p, 'Name');
      await storedRule(name);
      await locked(name, () => junction.setRuleEnabled(name, true, { allowNoTargets: true }));
      return {};
    },

    async DisableRule(p) {
      checkBus(p, 'EventBusName', busName);
      const name = requiredName(p, 'Name');
      await storedRule(name);
      await locked(name, () => junction.setRuleEnabled(name, false));
      return {};
    },

    async PutTargets(p, caller) {
      checkBus(p, 'EventBusName', busName);
      const name = requiredName(p, 'Rule');
      const targets = targetsParam(p, 'Targets');
      // The call's shape is checked whole (as EventBridge does); what a target means is answered per target.
      targets.forEach((t, i) => {
        if (!isObject(t) || typeof t.Id !== 'string' || typeof t.Arn !== 'string') {
          throw awsError(
            'ValidationException',
            `Targets[${i}] needs the strings Id and Arn`,
            `Targets[${i}]`,
          );
        }
        if (parseArn(t.Arn) === undefined) {
          throw awsError(
            'ValidationException',
            `Provided Arn is not in correct format: Targets[${i}].Arn`,
            `Targets[${i}].Arn`,
          );
        }
      });
      return locked(name, async () => {
        const rule = await storedRule(name, 'Rule');
        const next: Target[] = [...rule.targets];
        const failed: Array<{ TargetId: string; ErrorCode: string; ErrorMessage: string }> = [];
        for (const [i, raw] of targets.entries()) {
          const id = (raw as { Id: string }).Id;
          try {
            const at = next.findIndex((t) => t.id === id);
            const target = validateTarget(targetBodyOf(raw, i, next[at], busName), i);
            await junction.checkTarget(target, `targets[${i}]`);
            checkBusTarget(target, caller);
            if (at >= 0) next[at] = target;
            else next.push(target);
          } catch (error) {
            const e = toJunctionError(error);
            if (e.status >= 500) throw error;
            const field = targetField(i, e.path ?? e.field);
            failed.push({
              TargetId: id,
              ErrorCode: awsCodeOf(e),
              ErrorMessage: e.message.startsWith('Targets[') ? e.message : `${field}: ${e.message}`,
            });
          }
        }
        if (next.length > RULE_LIMITS.maxTargets) {
          throw awsError(
            'LimitExceededException',
            `a rule has at most ${RULE_LIMITS.maxTargets} targets; this call would give rule ${name} ${next.length}`,
            'Targets',
          );
        }
        if (failed.length < targets.length) {
          await junction.putRule(name, bodyOf(rule, next), { allowNoTargets: true });
        }
        return { FailedEntryCount: failed.length, FailedEntries: failed };
      });
    },

    async RemoveTargets(p) {
      checkBus(p, 'EventBusName', busName);
      const name = requiredName(p, 'Rule');
      const ids = targetsParam(p, 'Ids');
      ids.forEach((id, i) => {
        if (typeof id !== 'string')
          throw awsError('ValidationException', `Ids[${i}] must be a string`, `Ids[${i}]`);
      });
      optionalBoolean(p, 'Force');
      return locked(name, async () => {
        const rule = await storedRule(name, 'Rule');
        const remaining = rule.targets.filter((t) => !ids.includes(t.id));
        // An Id the rule does not have is already removed: EventBridge answers it as a success too.
        if (remaining.length !== rule.targets.length) {
          await junction.putRule(name, bodyOf(rule, remaining), { allowNoTargets: true });
        }
        return { FailedEntryCount: 0, FailedEntries: [] };
      });
    },

    async ListTargetsByRule(p) {
      checkBus(p, 'EventBusName', busName);
      const rule = await storedRule(requiredName(p, 'Rule'), 'Rule');
      const { items, nextToken } = page(rule.targets, (t) => t.id, p);
      return {
        Targets: items.map((t) => describeTarget(t, ctx)),
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      };
    },

    async ListRuleNamesByTarget(p) {
      checkBus(p, 'EventBusName', busName);
      const arn = p.TargetArn;
      if (typeof arn !== 'string' || parseArn(arn) === undefined) {
        throw awsError('ValidationException', 'TargetArn is required: a target ARN', 'TargetArn');
      }
      let wanted: Target | undefined;
      try {
        wanted = validateTarget(targetBodyOf({ Id: 'x', Arn: arn }, 0, undefined, busName), 0);
      } catch {
        // An ARN no target can have: no rule names it.
      }
      const rules = (await junction.listRules()).filter(
        (r) => wanted !== undefined && r.targets.some((t) => sameDestination(t, wanted)),
      );
      const { items, nextToken } = page(rules, (r) => r.name, p);
      return {
        RuleNames: items.map((r) => r.name),
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      };
    },

    async CreateArchive(p) {
      const name = requiredName(p, 'ArchiveName');
      checkArchiveSource(p, true);
      if (name === archiveName) {
        throw awsError(
          'ResourceAlreadyExistsException',
          `Archive ${name} already exists: it is the bus's retained log`,
          'ArchiveName',
        );
      }
      throw awsError(
        'LimitExceededException',
        `Junction keeps one archive per bus, its retained log, named as the bus: "${archiveName}" (${archiveArn(ctx, archiveName)}); replay from it with StartReplay`,
        'ArchiveName',
      );
    },

    async DescribeArchive(p) {
      const name = requiredName(p, 'ArchiveName');
      if (name !== archiveName) {
        throw awsError('ResourceNotFoundException', `Archive ${name} does not exist.`, 'ArchiveName');
      }
      return archive();
    },

    async ListArchives(p) {
      const prefix = optionalString(p, 'NamePrefix', 48) ?? '';
      const source = p.EventSourceArn;
      const state = p.State;
      const shown =
        archiveName.startsWith(prefix) &&
        (source === undefined || source === null || busNameOf(source) === busName) &&
        (state === undefined || state === null || state === 'ENABLED');
      const { items, nextToken } = page(shown ? [archive()] : [], (a) => a.ArchiveName as string, p);
      return {
        Archives: items.map(({ ArchiveArn: _a, Description: _d, ...rest }) => rest),
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      };
    },

    async StartReplay(p) {
      const replays = needReplays();
      const name = requiredName(p, 'ReplayName');
      if (!/^[a-z0-9-]{1,64}$/.test(name)) {
        throw awsError(
          'ValidationException',
          `ReplayName must be 1-64 lower-case letters, digits or "-" on Junction (replay names key deliveries), got "${name}"`,
          'ReplayName',
        );
      }
      optionalString(p, 'Description', 512);
      const source = p.EventSourceArn;
      if (typeof source !== 'string' || archiveNameOfArn(source) !== archiveName) {
        throw awsError(
          'ResourceNotFoundException',
          `Archive ${String(source)} does not exist; the bus's one archive is ${archiveArn(ctx, archiveName)}`,
          'EventSourceArn',
        );
      }
      const from = epochSeconds(p.EventStartTime, 'EventStartTime');
      const to = epochSeconds(p.EventEndTime, 'EventEndTime');
      const destination = p.Destination;
      if (!isObject(destination) || typeof destination.Arn !== 'string') {
        throw awsError(
          'ValidationException',
          'Destination.Arn is required: the event bus ARN',
          'Destination.Arn',
        );
      }
      checkBus(destination, 'Arn', busName);
      const filters = destination.FilterArns ?? [];
      if (!Array.isArray(filters) || filters.length > 1) {
        throw awsError(
          'ValidationException',
          'Destination.FilterArns: Junction replays to all rules or to one; give at most one rule ARN',
          'Destination.FilterArns',
        );
      }
      let rule: string | undefined;
      if (filters.length === 1) {
        rule = typeof filters[0] === 'string' ? ruleNameOfArn(filters[0], busName) : undefined;
        if (rule === undefined) {
          throw awsError(
            'ValidationException',
            'Destination.FilterArns[0] must be a rule ARN',
            'Destination.FilterArns',
          );
        }
      }
      if (to <= from) {
        throw awsError('ValidationException', 'EventEndTime must be after EventStartTime', 'EventEndTime');
      }
      if (rule !== undefined) await storedRule(rule, 'Destination.FilterArns');
      const status = (await replays.replay({
        name,
        from: Math.floor(from * 1000),
        to: Math.ceil(to * 1000),
        ...(rule === undefined ? {} : { rule }),
      })) as ReplayStatus;
      return {
        ReplayArn: replayArn(ctx, name),
        State: replayState(status.state),
        ...(status.error === undefined ? {} : { StateReason: status.error }),
        ReplayStartTime: toEpochSeconds(status.startedAt),
      };
    },

    async DescribeReplay(p) {
      return describeReplay(await replayNamed(p));
    },

    async ListReplays(p) {
      const prefix = optionalString(p, 'NamePrefix', 64) ?? '';
      const state = optionalString(p, 'State', 32);
      const source = p.EventSourceArn;
      const all = await replayList();
      const shown = all.filter(
        (s) =>
          s.name.startsWith(prefix) &&
          (state === undefined || replayState(s.state) === state) &&
          (source === undefined ||
            source === null ||
            (typeof source === 'string' && archiveNameOfArn(source) === archiveName)),
      );
      const { items, nextToken } = page(shown, (s) => s.name, p);
      return {
        Replays: items.map((s) => {
          const { ReplayArn: _arn, Destination: _destination, ...rest } = describeReplay(s);
          return rest;
        }),
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      };
    },

    async CancelReplay(p) {
      const status = await replayNamed(p);
      throw awsError(
        'IllegalStatusException',
        `Replay ${status.name} is ${replayState(status.state)} and cannot be cancelled: Junction replays run to the end before StartReplay answers`,
        'ReplayName',
      );
    },
  };

  return async (operation, body, caller = {}) => {
    const handler = Object.hasOwn(operations, operation) ? operations[operation] : undefined;
    if (handler === undefined && !BUS_OPERATIONS.has(operation)) return undefined;
    try {
      if (handler === undefined) {
        throw awsError(
          'OperationDisabledException',
          `${operation} is not supported: change a bus's description, and the buses it accepts events from (its resource policy, acceptFrom), with PUT /buses/{name}`,
        );
      }
      return { status: 200, body: await handler(params(body, operation), caller) };
    } catch (error) {
      const e: JunctionError = toJunctionError(error);
      if (e.status >= 500 && e.details?.awsErrorCode === undefined) {
        options.onError?.(error);
        return { status: 500, body: awsErrorBody('InternalException', e.message) };
      }
      return { status: 400, body: awsErrorBody(awsCodeOf(e), e.message) };
    }
  };
}
