/** User functions at deploy time: names, discovery in a folder, and the Lambda wrapper around a user's handler. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  FUNCTION_TAG,
  functionPrefixOf,
  MANAGED_TAG,
  managedTagValue,
  WRAPPER_SOURCE,
} from '../adapters/lambda/runner.ts';
import { DEFAULT_BUS } from '../core/bus.ts';

/** Every user function's Lambda name starts with this (the default bus's); IAM is scoped to it. */
export const FUNCTION_PREFIX = 'junction-fn-';

/**
 * The tags of a user function (the same as the CLI's): `junction:managed=<bus>` is the router's and api's IAM
 * condition; `functionPrefixOf` names a bus's functions (the runner's, so CLI, runtime and stack agree).
 */
export { FUNCTION_TAG, functionPrefixOf, MANAGED_TAG, managedTagValue };

/** The import of the user's module in the runner's wrapper. */
const USER_MODULE = "'./user.mjs'";

/** Lambda names are at most 64 characters of [a-zA-Z0-9-_]. */
const LAMBDA_NAME_MAX = 64;

/**
 * The name of the MSK cluster a bus creates for itself: `junction` for the default bus, `junction-<10 hex>` (a hash
 * of the bus name, as in `functionPrefixOf`) for the others, so two stacks of different buses in one account and
 * region do not collide (MSK cluster names are unique there; they allow only letters, digits and `-`).
 */
export function kafkaClusterNameOf(busName: string): string {
  if (busName === DEFAULT_BUS) return 'junction';
  return `junction-${createHash('sha256').update(busName).digest('hex').slice(0, 10)}`;
}

/** Rejects a function name Lambda or the prefix would not accept, showing the value. */
export function validateFunctionName(name: string, where: string, prefix = FUNCTION_PREFIX): void {
  const max = LAMBDA_NAME_MAX - prefix.length;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]*$/.test(name) || name.length > max) {
    throw new Error(
      `${where}: a function name must be 1-${max} letters, digits, '-' or '_' starting with a letter or digit ` +
        `(the Lambda name is '${prefix}<name>', at most ${LAMBDA_NAME_MAX} characters), got '${name}'`,
    );
  }
}

/** The `<name> → <file>` of every `*.ts` handler in a folder (not `*.d.ts` or `*.test.ts`), sorted by name. */
export function discoverFunctions(dir: string, prefix = FUNCTION_PREFIX): Map<string, string> {
  const folder = resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new Error(`functionsDir: '${dir}' is not a folder (resolved to '${folder}')`);
  }
  const found = new Map<string, string>();
  for (const file of readdirSync(folder).sort()) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts') || file.endsWith('.test.ts')) continue;
    const name = basename(file, '.ts');
    validateFunctionName(name, `functionsDir file '${file}'`, prefix);
    found.set(name, join(folder, file));
  }
  return found;
}

/**
 * Writes (when changed) the Lambda entry that adapts a user's handler: the router invokes the function with
 * `{ event, context }` and the user's `handler(event, context)` runs as it does locally. Returns the path.
 */
export function writeWrapper(cacheDir: string, name: string, userEntry: string): string {
  const entry = resolve(userEntry);
  if (!existsSync(entry)) throw new Error(`function '${name}': entry '${userEntry}' does not exist`);
  mkdirSync(cacheDir, { recursive: true });
  // The same adapter the CLI deploys (lib/adapters/lambda/runner.ts), importing the user's file instead of user.mjs.
  if (!WRAPPER_SOURCE.includes(USER_MODULE)) {
    throw new Error(`the Lambda wrapper of lib/adapters/lambda/runner.ts no longer imports ${USER_MODULE}`);
  }
  const source = WRAPPER_SOURCE.replace(USER_MODULE, JSON.stringify(entry));
  const hash = createHash('sha256').update(entry).digest('hex').slice(0, 12);
  const file = join(cacheDir, `${name}-${hash}.mjs`);
  if (!existsSync(file) || readFileSync(file, 'utf8') !== source) writeFileSync(file, source);
  return file;
}
