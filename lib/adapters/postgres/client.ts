/** The node-postgres client settings of a parsed connection string (shared by the CDC source and the sink). */
import type pg from 'pg';
import type { PostgresConnection } from '../../core/connector.ts';

export function pgClientConfig(
  c: PostgresConnection,
  applicationName: string,
  host = c.host,
): pg.ClientConfig {
  return {
    host,
    port: c.port,
    database: c.database,
    user: c.user,
    ...(c.password === undefined ? {} : { password: c.password }),
    ...(c.sslmode === 'disable'
      ? {}
      : {
          // verify-full checks the certificate against the name in the connection string, also when `host` is the
          // address it was resolved to.
          ssl:
            c.sslmode === 'verify-full'
              ? { rejectUnauthorized: true, servername: c.host }
              : { rejectUnauthorized: false },
        }),
    connectionTimeoutMillis: 15_000,
    application_name: applicationName,
  };
}
