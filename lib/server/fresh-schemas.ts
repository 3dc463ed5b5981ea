/**
 * A schema registry kept fresh where several processes share its store — Lambda instances on DynamoDB, processes of
 * one data dir on the Kafka log: each holds the registry in memory, so each reloads it when it is older than a
 * refresh interval, and always before a change to `/schemas` (docs/schemas.md, "Several processes").
 */
import { toJunctionError } from '../core/errors.ts';
import type { Schemas } from '../engine/schemas.ts';
import type { Clock } from '../ports.ts';
import type { App } from './app.ts';

/** Reloads a schema registry when it is older than `refreshMs` (`fresh`); loads run one at a time. */
export function schemaRefresher(
  schemas: Schemas,
  refreshMs: number,
  clock: Clock,
  onError: (error: unknown) => void,
): { fresh(): Promise<void> } {
  let loadedAt = clock.now();
  let loading: Promise<void> | undefined;
  // A failed reload is reported and the work done with the registry as last loaded (ingest stays up while DynamoDB
  // fails); the next call tries again.
  const load = (): Promise<void> => {
    loading ??= (async () => {
      const started = clock.now();
      try {
        await schemas.refresh();
        loadedAt = started;
      } catch (error) {
        onError(error);
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };
  return {
    fresh: () => (clock.now() - loadedAt >= refreshMs ? load() : Promise.resolve()),
  };
}

/**
 * The app, reloading the schema registry first when it is older than the refresher's interval, and always before a
 * change to `/schemas` (so that a version is numbered after the versions other instances stored). Loads run one at a
 * time; requests that arrive during one wait for it.
 */
export function withFreshSchemas(
  app: App,
  schemas: Schemas,
  refresher: { fresh(): Promise<void> },
  onError: (error: unknown) => void,
): App {
  return async (request) => {
    const change =
      request.method !== 'GET' && request.method !== 'HEAD' && /^\/schemas(\/|$)/.test(request.path);
    if (change) {
      // Numbering a version after a stale registry could answer a number another instance already stored: refuse.
      try {
        await schemas.refresh();
      } catch (error) {
        onError(error);
        const e = toJunctionError(error);
        return {
          status: e.status,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(e.toJSON()),
        };
      }
    } else await refresher.fresh();
    return app(request);
  };
}
