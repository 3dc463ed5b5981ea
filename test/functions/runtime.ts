/**
 * A handler runtime for the handler tests without Kafka: the same engine and app as on AWS, on SQLite stores and
 * log, with user functions on the Lambda runner against the stand-in Lambda API and a manual clock.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { HandlerRuntime } from '../../lib/adapters/aws/wiring.ts';
import { createHttpDriver } from '../../lib/adapters/http/http-driver.ts';
import { createLambdaRunner, type LambdaRunner } from '../../lib/adapters/lambda/runner.ts';
import { openSqliteStores, type SqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { createAddressPolicy } from '../../lib/core/net/address-policy.ts';
import { Junction } from '../../lib/engine/junction.ts';
import type { Clock, Ledger } from '../../lib/ports.ts';
import { createApp } from '../../lib/server/app.ts';
import { type FakeLambda, startFakeLambda } from '../adapters/lambda/fake-lambda.ts';
import { tempDir } from '../helpers/paths.ts';

export interface ManualClock extends Clock {
  advance(ms: number): void;
}

export function manualClock(start = Date.parse('2026-11-27T17:30:00Z')): ManualClock {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

export interface TestRuntime extends HandlerRuntime {
  readonly stores: SqliteStores;
  readonly lambda: FakeLambda;
  readonly functions: LambdaRunner;
  readonly clock: ManualClock;
  close(): Promise<void>;
}

export async function startTestRuntime(
  options: { ledger?: (ledger: Ledger) => Ledger } = {},
): Promise<TestRuntime> {
  const dir = tempDir('junction-handlers-');
  const clock = manualClock();
  const stores = openSqliteStores({ dataDir: dir.path, clock, partitions: 2 });
  const lambda = await startFakeLambda();
  const client = new LambdaClient({
    endpoint: lambda.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
  });
  const functions = createLambdaRunner({
    client,
    roleArn: 'arn:aws:iam::123456789012:role/junction-functions',
    deployPollMs: 10,
  });
  const http = createHttpDriver({ clock, addressPolicy: createAddressPolicy({ allow: ['127.0.0.1'] }) });
  const junction = await Junction.open({
    log: stores.log,
    rules: stores.rules,
    ledger: options.ledger ? options.ledger(stores.ledger) : stores.ledger,
    deadLetters: stores.deadLetters,
    traces: stores.traces,
    functions,
    drivers: { http, bus: http },
    clock,
    onError: () => undefined,
  });
  return {
    junction,
    app: createApp({ junction }),
    deadLetters: stores.deadLetters,
    traces: stores.traces,
    stores,
    lambda,
    functions,
    clock,
    async close() {
      await junction.stop();
      await functions.close();
      client.destroy();
      await lambda.close();
      await stores.close();
      dir.remove();
    },
  };
}

/** A Lambda context with a fixed time budget. */
export function lambdaContext(remainingMs = 30_000) {
  const until = Date.now() + remainingMs;
  return { getRemainingTimeInMillis: () => until - Date.now() };
}
