/** The no-op tracer (the engine's default: tracing off) passes the shared Tracer suite. */
import { noopTracer } from '../../lib/ports.ts';
import { tracerSuite } from '../ports/tracer.suite.ts';

tracerSuite('noop tracer', async () => ({ tracer: noopTracer, cleanup: async () => {} }));
