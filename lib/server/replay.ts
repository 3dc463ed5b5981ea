/** Wires replay and rule simulation (lib/engine/replay.ts) into the API's extensions. */

import type { Junction } from '../engine/junction.ts';
import { replay, simulate } from '../engine/replay.ts';
import type { EventLog } from '../ports.ts';
import { parseTime } from './app.ts';
import type { Extensions } from './extensions.ts';

export function createReplayExtensions(options: { junction: Junction; log: EventLog }): Extensions {
  const { junction, log } = options;
  return {
    replay: (body) => replay(junction, log, body, parseTime),
    simulate: (name, body) => simulate(junction, log, name, body, parseTime),
  };
}
