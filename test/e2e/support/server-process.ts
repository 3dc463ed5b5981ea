/** A child-process entry for whole-system tests: runs the embedded bus and prints `ready <url>` when it serves. */
import { startEmbedded } from '../../../lib/server/embedded.ts';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) {
  process.stderr.write('usage: server-process.ts DATA_DIR PORT\n');
  process.exit(2);
}
const bus = await startEmbedded({
  dataDir,
  port: Number(port),
  pollMs: 100,
  functionLog: () => {},
  onError: (error) => process.stderr.write(`server error: ${String(error)}\n`),
});
process.stdout.write(`ready ${bus.url}\n`);
process.once('SIGTERM', () => {
  void bus.close().then(() => process.exit(0));
});
