/** Lambda `api`: API Gateway (IAM, JWT or Cognito auth) → the management API, and the console with JWT auth. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleSignInFromEnv, gatewayAuthFromEnv } from '../lib/adapters/aws/gateway-auth.ts';
import { createApiHandler } from '../lib/adapters/aws/handlers.ts';
import { awsRuntime } from '../lib/adapters/aws/wiring.ts';

const signIn = consoleSignInFromEnv(process.env);

export const handler = createApiHandler(awsRuntime, {
  auth: gatewayAuthFromEnv(process.env),
  // The construct's build writes the console's assets to `console/` beside the bundled handler (`index.mjs`).
  console: {
    prebuiltDir: join(dirname(fileURLToPath(import.meta.url)), 'console'),
    ...(signIn === undefined ? {} : { signIn }),
  },
});
