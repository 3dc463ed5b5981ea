/** Starts dynalite (a DynamoDB-API server, in memory) in-process on 127.0.0.1 and creates Junction's tables. */

import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient, createTables } from '../../lib/adapters/dynamodb/client.ts';
import type { TableNames } from '../../lib/adapters/dynamodb/tables.ts';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

export interface Dynalite {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** A client for the endpoint (dummy credentials). */
  readonly client: DynamoDBClient;
  /** The tables created under the prefix given to startDynalite. */
  readonly tables: TableNames;
  /** Creates another set of tables under a fresh prefix (an empty, isolated store). */
  freshTables(): Promise<TableNames>;
  /** Destroys the client and closes the server. */
  stop(): Promise<void>;
}

let prefixes = 0;

/** A unique table prefix for one test. */
export function uniquePrefix(): string {
  prefixes += 1;
  return `t${process.pid}x${prefixes}`;
}

/** Starts dynalite on a free port and creates the tables under `prefix` (a unique one by default). */
export async function startDynalite(prefix: string = uniquePrefix()): Promise<Dynalite> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = createDynamoClient({ endpoint, region: 'us-east-1' });
  const tables = await createTables(client, prefix);
  return {
    endpoint,
    client,
    tables,
    freshTables: () => createTables(client, uniquePrefix()),
    stop: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
