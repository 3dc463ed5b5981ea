/**
 * Wires replay and rule simulation (lib/engine/replay.ts) into the API's extensions. With a `file`, the list of
 * replays is kept there (JSON, rewritten when a replay starts or ends), so it survives a restart.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { searchEvents } from '../engine/event-search.ts';
import { EventTails, type TailLimits } from '../engine/event-tail.ts';
import type { Junction } from '../engine/junction.ts';
import { type ReplayStatus, Replays, simulate } from '../engine/replay.ts';
import type { EventLog } from '../ports.ts';
import { parseTime } from './app.ts';
import type { Extensions } from './extensions.ts';

export interface ReplayExtensionsOptions {
  readonly junction: Junction;
  readonly log: EventLog;
  /** Where the list of replays is kept. @default none (the list lives in memory) */
  readonly file?: string;
  readonly onError?: (error: unknown) => void;
  /** Serve `GET /events/tail` (a long-lived stream: the embedded server only), with these limits. @default off */
  readonly tail?: Partial<TailLimits>;
}

function load(file: string | undefined): ReplayStatus[] {
  if (file === undefined) return [];
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return Array.isArray(value) ? (value as ReplayStatus[]) : [];
  } catch {
    return [];
  }
}

export function createReplayExtensions(options: ReplayExtensionsOptions): Extensions {
  const { junction, log, file } = options;
  const replays = new Replays({
    junction,
    log,
    parse: parseTime,
    initial: load(file),
    ...(file === undefined
      ? {}
      : {
          onChange: (list: readonly ReplayStatus[]) => {
            try {
              writeFileSync(`${file}.tmp`, JSON.stringify(list));
              renameSync(`${file}.tmp`, file);
            } catch (error) {
              options.onError?.(error);
            }
          },
        }),
  });
  const tails = options.tail === undefined ? undefined : new EventTails(log, options.tail);
  return {
    replay: (body) => replays.start(body),
    replays: async () => ({ replays: replays.list() }),
    replayStatus: async (name) => replays.get(name),
    simulate: (name, body) => simulate(junction, log, name, body, parseTime),
    events: (query) => searchEvents(log, query),
    ...(tails === undefined ? {} : { tail: (query) => tails.tail(query) }),
  };
}
