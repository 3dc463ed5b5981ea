import type { EventQuery } from '../engine/event-search.ts';
import type { TailQuery, TailStream } from '../engine/event-tail.ts';

/** Optional API features served beside the core API, supplied by the wiring that has what they need. */

export interface Extensions {
  /** `POST /replays {"from", "to", "rule"?}`: re-deliver retained events of a time range. */
  readonly replay?: (body: unknown) => Promise<unknown>;
  /** `GET /replays`: `{"replays": [...]}`, newest first. */
  readonly replays?: () => Promise<unknown>;
  /** `GET /replays/{name}`: one replay's status (NotFound when unknown). */
  readonly replayStatus?: (name: string) => Promise<unknown>;
  /** `POST /rules/{name}/simulate {"from", "to"}`: run a rule over retained events, delivering nothing. */
  readonly simulate?: (name: string, body: unknown) => Promise<unknown>;
  /** `GET /events?source=&type=&id=&from=&to=&limit=`: the newest retained events that match. */
  readonly events?: (query: EventQuery) => Promise<unknown>;
  /**
   * `GET /events/tail?pattern=&filter=` (`Last-Event-ID` or `cursor` to go on): the events accepted from now on, as
   * server-sent events. Validates and answers the stream, or throws the 400/429.
   */
  readonly tail?: (query: TailQuery) => TailStream;
}
