/** The embedded serverless runtime: user functions bundled with esbuild and run in worker threads. */
export { type BuildErrorDetail, type BundleOptions, bundleFunction, projectRoot } from './bundle.ts';
export type { FunctionContext } from './protocol.ts';
export {
  createWorkerRunner,
  validateFunctionName,
  type WorkerRunner,
  type WorkerRunnerOptions,
  type WorkerRunnerStats,
} from './runner.ts';
