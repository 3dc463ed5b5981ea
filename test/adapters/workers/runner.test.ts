/** The worker-thread FunctionRunner: the shared suite, plus what only the embedded runner does. */
import { createWorkerRunner } from '../../../lib/adapters/workers/index.ts';
import { tempDir } from '../../helpers/paths.ts';
import { functionRunnerSuite } from '../../ports/function-runner.suite.ts';

functionRunnerSuite('worker runner', async () => {
  const dir = tempDir('junction-fn-');
  const runner = await createWorkerRunner({ dataDir: dir.path, logger: () => {} });
  return {
    runner,
    cleanup: async () => {
      await runner.close();
      dir.remove();
    },
  };
});
