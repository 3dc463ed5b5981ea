/**
 * One member of a consumer group on the log's topic: fetches its partitions itself, calls the handler with one
 * partition's batch at a time, and commits past a batch only after the handler resolved.
 */
import { Consumer, type ConsumerGroupJoinPayload, type RecordsBatch } from '@platformatic/kafka';
import type { LogRecord, Subscription } from '../../ports.ts';
import { subscribedRoundRobin } from './assigner.ts';
import { clientConnectionOptions, type ResolvedKafkaOptions } from './config.ts';
import { recordsFromBatches } from './records.ts';

interface PartitionState<R extends { readonly offset: number }> {
  readonly partition: number;
  /** The first offset of the next batch; the group's committed offset while no handler call runs. */
  position: number;
  /** The next offset to fetch: records are fetched ahead while a handler call runs. */
  fetchFrom: number;
  /** Fetched records not yet handed out, in offset order (the ones after a running batch). */
  buffer: R[];
  /** The running handler call (and its commit), if any. */
  busy: Promise<void> | undefined;
  /** No handler call before this time (ms, Date.now) after a failure. */
  retryAt: number;
  failures: number;
}

/** Turns fetched batches into the records handed out (from `fromOffset` on); a record left out goes to `onSkip`. */
export type RecordDecoder<R> = (
  batches: readonly RecordsBatch[],
  partition: number,
  fromOffset: number,
  onSkip: (offset: number, error: unknown) => void,
) => R[];

export interface GroupMemberOptions<R extends { readonly offset: number } = LogRecord> {
  readonly group: string;
  readonly handler: (records: R[]) => Promise<void>;
  readonly maxBatch: number;
  /** @default the log's records: CloudEvents in the Kafka binding (`recordsFromBatches`) */
  readonly decode?: RecordDecoder<R>;
  /** Where a partition the group has no committed offset for starts. @default 'earliest' */
  readonly startAt?: 'earliest' | 'latest';
}

/** Longest a rejoin waits for running handler calls before going on (a handler stuck past it is not waited for). */
const REVOKE_WAIT_MS = 30_000;
const WATCHDOG_MS = 2000;
/** The Kafka protocol's OFFSET_OUT_OF_RANGE error code. */
const OFFSET_OUT_OF_RANGE = 1;
const FETCH_MAX_BYTES = 8 * 1024 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Joins `group` and consumes until closed. Rebalances: before this member rejoins (the client asks
 * `protocolsMetadata` first), it stops handing out batches and waits for running handler calls and their
 * commits, so a partition moves to another member only with its position committed.
 */
export class GroupMember<R extends { readonly offset: number } = LogRecord> implements Subscription {
  readonly #options: ResolvedKafkaOptions;
  readonly #member: GroupMemberOptions<R>;
  readonly #decode: RecordDecoder<R>;
  readonly #consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  /** Fetches on connections of their own: see the constructor. */
  readonly #fetcher: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #owned = new Map<number, PartitionState<R>>();
  /** Bumped at every rejoin: work started under an older epoch is discarded. */
  #epoch = 0;
  #paused = true;
  #closed = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  /** From the start of a (re)join until its assignment arrives or it fails. */
  #joining = false;
  #inactiveTicks = 0;
  #watchdog: NodeJS.Timeout | undefined;
  /** `start` while it runs: `close` waits for it, so that a member closed while joining does not go on consuming. */
  #starting: Promise<void> | undefined;

  constructor(options: ResolvedKafkaOptions, member: GroupMemberOptions<R>) {
    this.#options = options;
    this.#member = member;
    this.#decode = member.decode ?? (recordsFromBatches as unknown as RecordDecoder<R>);
    this.#consumer = new Consumer({
      ...clientConnectionOptions(options, 'consumer'),
      groupId: member.group,
      autocommit: false,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(options.sessionTimeoutMs / 10)),
      rebalanceTimeout: Math.max(options.sessionTimeoutMs, REVOKE_WAIT_MS + 10_000),
      protocolsMetadata: () => this.#beforeJoin(),
      partitionAssigner: subscribedRoundRobin,
      retries: 3,
      retryDelay: 250,
    });
    // A broker answers the requests of one connection in order, so an offset commit (or a heartbeat) sent while a
    // fetch long-polls on the same connection waits for that fetch: commits took ≈ 25 ms at 200 events/s and a
    // partition's next batch waited for them. Fetches go through a client of their own (it joins no group).
    this.#fetcher = new Consumer({
      ...clientConnectionOptions(options, 'fetcher'),
      groupId: `${member.group}-fetcher-unused`,
      autocommit: false,
      retries: 3,
      retryDelay: 250,
    });
  }

  /** Joins the group (resolves once this member has its assignment) and starts consuming. */
  async start(): Promise<void> {
    if (this.#closed) throw new Error(`consumer group ${this.#member.group}: the member is closed`);
    this.#starting = this.#start();
    try {
      await this.#starting;
    } finally {
      this.#starting = undefined;
    }
  }

  async #start(): Promise<void> {
    this.#consumer.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) => {
      void this.#assigned(payload.assignments ?? []).catch((error: unknown) => {
        this.#options.onWarning(`consumer group ${this.#member.group}: taking the assignment failed`, error);
      });
    });
    this.#consumer.on('error', (error: unknown) => {
      this.#joining = false;
      this.#options.onWarning(`consumer group ${this.#member.group}: client error`, error);
    });
    this.#consumer.topics.track(this.#options.topic);
    await this.#consumer.joinGroup({});
    // Closed while joining: `close` is waiting for this start to end, and then lets go of the consumer.
    if (this.#closed) return;
    this.#watchdog = setInterval(() => this.#rejoinIfLost(), WATCHDOG_MS);
    this.#watchdog.unref();
    this.#loop = this.#run();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#starting?.catch(() => undefined);
    clearInterval(this.#watchdog);
    this.#paused = true;
    this.#wakeUp();
    await this.#loop;
    await this.#drain();
    await this.#consumer.close().catch(() => undefined);
    await this.#fetcher.close().catch(() => undefined);
  }

  /**
   * The client stops heartbeating when a rejoin fails (say the broker was away for longer than its retries):
   * join again once it has been inactive, outside a join, for two watchdog ticks in a row.
   */
  #rejoinIfLost(): void {
    if (this.#closed || this.#joining || this.#consumer.isActive()) {
      this.#inactiveTicks = 0;
      return;
    }
    this.#inactiveTicks += 1;
    if (this.#inactiveTicks < 2) return;
    this.#inactiveTicks = 0;
    this.#consumer.joinGroup({}).catch((error: unknown) => {
      this.#joining = false;
      this.#options.onWarning(`consumer group ${this.#member.group}: rejoining failed`, error);
    });
  }

  /** Called by the client before each (re)join: stop, let running calls finish and commit, forget positions. */
  async #beforeJoin(): Promise<Buffer> {
    this.#joining = true;
    this.#epoch += 1;
    this.#paused = true;
    await Promise.race([this.#drain(), sleep(REVOKE_WAIT_MS)]);
    this.#owned.clear();
    return Buffer.alloc(0);
  }

  async #drain(): Promise<void> {
    const running = [...this.#owned.values()].map((state) => state.busy).filter((busy) => busy !== undefined);
    await Promise.allSettled(running);
  }

  async #assigned(assignments: readonly { topic: string; partitions: number[] }[]): Promise<void> {
    const epoch = this.#epoch;
    const partitions = assignments
      .filter((a) => a.topic === this.#options.topic)
      .flatMap((a) => a.partitions);
    const foreign = assignments.filter((a) => a.topic !== this.#options.topic && a.partitions.length > 0);
    if (foreign.length > 0) {
      // Only a leader that assigns without regard to subscriptions (not Junction's) does this: those partitions
      // are consumed by nobody until the group is rebalanced by one of ours.
      this.#options.onWarning(
        `consumer group ${this.#member.group}: handed partitions of ${foreign.map((a) => a.topic).join(', ')}, which this member does not read; give each topic its own group`,
      );
    }
    let positions: Map<number, number> | undefined;
    // The broker may be away for a while: keep trying until it answers, a rejoin supersedes this, or close.
    while (positions === undefined) {
      if (epoch !== this.#epoch || this.#closed) return;
      try {
        positions = await this.#startPositions(partitions);
      } catch (error) {
        this.#options.onWarning(
          `consumer group ${this.#member.group}: reading committed offsets failed`,
          error,
        );
        await sleep(500);
      }
    }
    if (epoch !== this.#epoch || this.#closed) return;
    this.#owned.clear();
    for (const partition of partitions) {
      this.#owned.set(partition, {
        partition,
        position: positions.get(partition) ?? 0,
        fetchFrom: positions.get(partition) ?? 0,
        buffer: [],
        busy: undefined,
        retryAt: 0,
        failures: 0,
      });
    }
    this.#paused = false;
    this.#joining = false;
    this.#wakeUp();
  }

  /** The partitions this member owns, with the next offset it hands out of each (its committed one while idle). */
  positions(): Map<number, number> {
    return new Map([...this.#owned.values()].map((s) => [s.partition, s.position]));
  }

  /** The end offset (the next offset to be written) of each partition of the topic. */
  async endOffsets(): Promise<Map<number, number>> {
    const topic = this.#options.topic;
    const ends = await this.#consumer.listOffsets({ topics: [topic], timestamp: -1n });
    return new Map((ends.get(topic) ?? []).map((offset, partition) => [partition, Number(offset)]));
  }

  /** The committed offset of each partition, or the log start (the end, with `startAt: 'latest'`) where the group has none. */
  async #startPositions(partitions: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    if (partitions.length === 0) return out;
    const topic = this.#options.topic;
    const committed = await this.#consumer.listCommittedOffsets({ topics: [{ topic, partitions }] });
    const offsets = committed.get(topic) ?? [];
    const missing = partitions.filter((p) => (offsets[p] ?? -1n) < 0n);
    const earliest =
      missing.length > 0
        ? await this.#consumer.listOffsets({
            topics: [topic],
            timestamp: this.#member.startAt === 'latest' ? -1n : -2n,
          })
        : undefined;
    for (const partition of partitions) {
      const offset = offsets[partition] ?? -1n;
      out.set(partition, Number(offset >= 0n ? offset : (earliest?.get(topic)?.[partition] ?? 0n)));
    }
    return out;
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #waitForWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      if (this.#paused || this.#owned.size === 0) {
        await this.#waitForWake(500);
        continue;
      }
      const now = Date.now();
      const states = [...this.#owned.values()];
      for (const state of states) {
        if (state.busy === undefined && state.retryAt <= now && state.buffer.length > 0)
          this.#dispatch(state);
      }
      // Fetch for partitions with nothing buffered, including those whose handler runs (one batch ahead).
      const fetchable = states.filter((s) => s.retryAt <= now && s.buffer.length === 0);
      const backoffEnds = states.filter((s) => s.retryAt > now).map((s) => s.retryAt - now);
      if (fetchable.length === 0) {
        await this.#waitForWake(Math.max(1, Math.min(1000, ...backoffEnds)));
        continue;
      }
      // A long poll only when nothing else will be ready sooner: a batch waiting for its partition's running
      // call, or a backoff ending.
      const waiting = states.some((s) => s.busy !== undefined && s.buffer.length > 0);
      const maxWait = waiting ? 20 : Math.max(1, Math.min(500, ...backoffEnds));
      await this.#fetchInto(fetchable, maxWait);
    }
  }

  async #fetchInto(states: PartitionState<R>[], maxWaitTime: number): Promise<void> {
    const epoch = this.#epoch;
    const topic = this.#options.topic;
    try {
      const metadata = await this.#fetcher.metadata({ topics: [topic] });
      const info = metadata.topics.get(topic);
      if (info === undefined) throw new Error(`topic ${topic} has no metadata`);
      const requested = new Map(states.map((s) => [s.partition, s.fetchFrom]));
      const byLeader = new Map<number, PartitionState<R>[]>();
      for (const state of states) {
        const leader = info.partitions[state.partition]?.leader ?? -1;
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), state]);
      }
      // One broker answers at a time: a long poll on it must not hold back another broker's partitions.
      const wait = byLeader.size > 1 ? Math.min(maxWaitTime, 20) : maxWaitTime;
      await Promise.all(
        [...byLeader].map(async ([node, group]) => {
          const response = await this.#fetcher.fetch({
            node,
            maxWaitTime: wait,
            minBytes: 1,
            maxBytes: FETCH_MAX_BYTES,
            topics: [
              {
                topicId: info.id,
                partitions: group.map((s) => ({
                  partition: s.partition,
                  fetchOffset: BigInt(s.fetchFrom),
                  partitionMaxBytes: FETCH_MAX_BYTES,
                  currentLeaderEpoch: -1,
                  lastFetchedEpoch: -1,
                })),
              },
            ],
          });
          if (epoch !== this.#epoch || this.#paused) return;
          for (const topicResponse of response.responses) {
            for (const part of topicResponse.partitions) {
              const state = this.#owned.get(part.partitionIndex);
              const from = requested.get(part.partitionIndex);
              // Answers for a partition reset meanwhile (a failed batch) are stale.
              if (state === undefined || from === undefined || state.fetchFrom !== from) continue;
              if (part.errorCode === OFFSET_OUT_OF_RANGE && from < Number(part.logStartOffset)) {
                if (state.busy !== undefined || state.buffer.length > 0) continue;
                // Retention deleted records this group had not processed: go on from the log start, as Kafka's
                // auto.offset.reset=earliest does, and say so.
                this.#options.onWarning(
                  `partition ${state.partition}: offsets ${from}..${Number(part.logStartOffset) - 1} were deleted by retention before group ${this.#member.group} processed them`,
                );
                state.position = Number(part.logStartOffset);
                state.fetchFrom = state.position;
                continue;
              }
              if (part.errorCode !== 0) {
                this.#options.onWarning(
                  `fetch of partition ${part.partitionIndex} answered error ${part.errorCode}`,
                );
                continue;
              }
              const records = this.#decode(part.records ?? [], state.partition, from, (offset, error) =>
                this.#options.onWarning(`skipped the undecodable record ${state.partition}:${offset}`, error),
              );
              state.buffer.push(...records);
              state.fetchFrom = Math.max(from, lastOffset(part.records) + 1);
              // Records that did not decode are skipped: an idle partition moves past them and does not stall.
              if (state.busy === undefined && state.buffer.length === 0) state.position = state.fetchFrom;
            }
          }
        }),
      );
    } catch (error) {
      if (!this.#closed) {
        this.#options.onWarning(`consumer group ${this.#member.group}: fetch failed`, error);
        await this.#waitForWake(500);
      }
    }
  }

  #dispatch(state: PartitionState<R>): void {
    const epoch = this.#epoch;
    const batch = state.buffer.splice(0, this.#member.maxBatch);
    const first = batch[0];
    const last = batch.at(-1);
    if (first === undefined || last === undefined) return;
    state.busy = (async () => {
      try {
        await this.#member.handler(batch);
        await this.#consumer.commit({
          offsets: [
            {
              topic: this.#options.topic,
              partition: state.partition,
              offset: BigInt(last.offset + 1),
              leaderEpoch: -1,
            },
          ],
        });
        if (epoch === this.#epoch) {
          state.position = last.offset + 1;
          state.failures = 0;
        }
      } catch {
        // Retry from the committed position (this batch's start) after a backoff; drop what was fetched ahead.
        state.buffer = [];
        state.position = first.offset;
        state.fetchFrom = first.offset;
        state.failures += 1;
        const delay = Math.min(
          this.#options.retryMaxMs,
          this.#options.retryBaseMs * 2 ** (state.failures - 1),
        );
        state.retryAt = Date.now() + delay;
      } finally {
        state.busy = undefined;
        // The next batch fetched meanwhile goes at once: the loop may be waiting on a fetch for other partitions.
        if (
          epoch === this.#epoch &&
          !this.#paused &&
          !this.#closed &&
          this.#owned.get(state.partition) === state &&
          state.retryAt <= Date.now() &&
          state.buffer.length > 0
        )
          this.#dispatch(state);
        this.#wakeUp();
      }
    })();
  }
}

function lastOffset(
  batches: readonly { firstOffset: bigint; lastOffsetDelta: number }[] | null | undefined,
): number {
  let last = -1;
  for (const batch of batches ?? []) last = Math.max(last, Number(batch.firstOffset) + batch.lastOffsetDelta);
  return last;
}
