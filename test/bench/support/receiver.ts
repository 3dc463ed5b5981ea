/**
 * An HTTP target for the delivery benchmarks, in its own process: answers 200 to every POST, notes how long after
 * the load generator sent it each event arrived (its `sentAt`), and answers `GET /stats` with the count and those
 * latencies since the last `GET /stats?reset=1`. `--delay=MS` answers that late (a slow target).
 */
import { createServer } from 'node:http';
import { sharedNow } from './clock.ts';

const delayMs = Number(process.argv.find((a) => a.startsWith('--delay='))?.slice('--delay='.length) ?? 0);
let count = 0;
let latencies: number[] = [];
const MAX_SAMPLES = 1_000_000;

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    const body = JSON.stringify({ count, latencies });
    if (req.url?.includes('reset=1')) {
      count = 0;
      latencies = [];
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = sharedNow();
    count++;
    try {
      const sentAt = (JSON.parse(Buffer.concat(chunks).toString()) as { sentAt?: unknown }).sentAt;
      if (typeof sentAt === 'number' && latencies.length < MAX_SAMPLES) latencies.push(now - sentAt);
    } catch {
      // not JSON: counted, no latency
    }
    const answer = () => {
      res.writeHead(200);
      res.end();
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (typeof address === 'object' && address)
    process.stdout.write(`ready http://127.0.0.1:${address.port}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
