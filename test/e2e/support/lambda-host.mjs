// A stand-in for the Lambda Node.js runtime, one process per function as in Lambda: loads `<dir>/<file>.mjs` of a
// synthesized bundle, takes `<file>.<export>` from the function's Handler, and answers invocations sent over IPC
// ({ id, event } → { id, result } or { id, error }). Its environment is the function's, given by the parent.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, handlerSpec, timeoutSeconds] = process.argv.slice(2);
const dot = handlerSpec.lastIndexOf('.');
const file = handlerSpec.slice(0, dot);
const exported = handlerSpec.slice(dot + 1);
const started = process.hrtime.bigint();
const module = await import(pathToFileURL(join(dir, `${file}.mjs`)).href);
const handler = module[exported];
const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
if (typeof handler !== 'function') {
  process.send({ ready: false, error: `${handlerSpec}: ${file}.mjs exports no function ${exported}` });
} else {
  process.send({ ready: true, loadMs });
}
process.on('message', async (message) => {
  const until = Date.now() + Number(timeoutSeconds) * 1000;
  const context = {
    functionName: 'bundle-under-test',
    awsRequestId: String(message.id),
    getRemainingTimeInMillis: () => Math.max(0, until - Date.now()),
  };
  try {
    const result = await handler(message.event, context);
    process.send({ id: message.id, result: result === undefined ? null : result });
  } catch (error) {
    process.send({ id: message.id, error: { name: error?.name, message: error?.message ?? String(error) } });
  }
});
