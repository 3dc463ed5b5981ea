/** A FunctionRunner with no functions, for engine tests that deliver to other targets only. */
import { notFound } from '../../lib/core/errors.ts';
import type { FunctionRunner } from '../../lib/ports.ts';

export const noFunctions: FunctionRunner = {
  deploy: async () => {
    throw notFound('function runner');
  },
  list: async () => [],
  get: async () => undefined,
  delete: async () => false,
  invoke: async (name) => {
    throw notFound(`function "${name}"`);
  },
  close: async () => {},
};
