/**
 * The embedded serverless runtime: user functions bundled with esbuild and run in sandboxed child processes
 * (lib/adapters/process; the default) or, with `isolation: 'thread'`, in worker threads.
 *
 * What a user function sees:
 * - `handler(event, context)` exported by name (or as `default.handler`, which is what a CommonJS
 *   `module.exports.handler` bundles to); it may be async.
 * - `event` is the CloudEvent as a plain JSON-format object (attributes at the top level, payload in `data`),
 *   deeply frozen: a structured-clone copy, so nothing the handler does reaches the bus's copy. It is not the
 *   `cloudevents` SDK's class; a function that wants one can build it with `new CloudEvent(event)`.
 * - `context` is a frozen `FunctionContext`: functionName, rule, target, idempotencyKey, attempt,
 *   possibleDuplicate, deadline (ms since the epoch, the runner's clock), `traceparent`/`tracestate` (when
 *   tracing is on: the delivery's span, to start child spans from) and `log(...args)`.
 * - It may answer nothing (undefined or null), one event object, or an array of event objects; anything else,
 *   or anything structured clone cannot copy (functions, symbols), fails the call with `FunctionError`.
 * - Console output (stdout and stderr) goes line by line to the runner's `logger`.
 * - Imports: Node builtins stay imports; bare package imports are bundled from the project's node_modules
 *   (`resolveDir`) when installed there, else the deploy fails with `InvalidFunction`. A single module cannot
 *   import relative files; a zip with `index.ts|index.js` at its root can.
 *
 * The process sandbox is a boundary (no file system, empty env, no child processes or addons, unprivileged user,
 * memory limit covering off-heap memory, SIGKILL at timeout; not the network): see docs/security.md. Worker
 * threads isolate faults only, not privileges: there a function has the bus's rights. Use them for trusted code.
 */
export { type BuildErrorDetail, type BundleOptions, bundleFunction, projectRoot } from './bundle.ts';
export type { FunctionContext } from './protocol.ts';
export {
  createWorkerRunner,
  validateFunctionName,
  type WorkerRunner,
  type WorkerRunnerOptions,
  type WorkerRunnerStats,
} from './runner.ts';
