/**
 * A load generator run as its own process, so it does not share an event loop with the server it measures.
 * Modes: `single` (one binary-mode event per request), `batch` (N events per request), `rate` (single events at a
 * fixed rate, carrying their send time for latency probes), `batch-rate` (batches of N at a fixed rate of events,
 * each event carrying its send time), `putevents` (EventBridge PutEvents calls of N entries, the events of `batch`),
 * `putevents-rate` (those at a fixed rate of events). With `like: 'putevents'`, `batch` and `batch-rate` send the
 * CloudEvents a PutEvents call becomes (with `time` and `datacontenttype`), with `ids: 'uuid'` random UUIDs as ids; with `sample: N`, every Nth event's data
 * carries `kind: "sampled"` (for a rule that matches a few). A path in `url` (e.g. `/buses/b`) goes before the API's paths
 * (a named bus); `source` sets the events' source. Prints one JSON line with its counts (429 answers also as `rejected`).
 */
import { Agent, request } from 'node:http';
import { sharedNow } from './clock.ts';
import { wideData } from './wide-data.ts';

interface Options {
  url: string;
  mode: 'single' | 'batch' | 'rate' | 'batch-rate' | 'putevents' | 'putevents-rate' | 'get';
  seconds: number;
  concurrency: number;
  batch: number;
  rate: number;
  prefix: string;
  file: string;
  /** Extra headers on every request (e.g. authorization). */
  headers?: Record<string, string>;
  /** Every `sample`th event's data has `kind: "sampled"`. @default none */
  sample?: number;
  /** `putevents`: batches carry the attributes a PutEvents entry becomes (`time`, `datacontenttype`). */
  like?: 'putevents';
  /** `uuid`: events carry random (version 4) UUIDs as ids, as many producers send. @default `${prefix}-${n}` */
  ids?: 'uuid';
  /** The events' source. @default '/bench' */
  source?: string;
  /** `wide`: each event's data is about 1 KB of 20 properties (`wideData`; the schemas benchmark). */
  data?: 'wide';
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const target = new URL(o.url);
const base = target.pathname.replace(/\/$/, '');
const eventSource = o.source ?? '/bench';
const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
let sequence = 0;
let ok = 0;
let failed = 0;
let events = 0;
let rejected = 0;

function send(path: string, method: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: `${base}${path}`,
        method,
        headers: { ...o.headers, ...headers, 'content-length': Buffer.byteLength(body) },
        agent,
      },
      (res) => {
        if (res.statusCode === 429) rejected++;
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** The id of event number `n`: a random UUID with `ids: 'uuid'`, else `${prefix}-${n}`. */
function idOf(n: number): string {
  return o.ids === 'uuid' ? crypto.randomUUID() : `${o.prefix}-${n}`;
}

function single(extra: Record<string, unknown> = {}): Promise<number> {
  const id = idOf(sequence++);
  return send(
    '/events',
    'POST',
    {
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': eventSource,
      'ce-type': 'bench.event',
      'content-type': 'application/json',
    },
    JSON.stringify(o.data === 'wide' ? wideData(sequence) : { n: sequence, file: o.file, ...extra }),
  );
}

/** The data of the next event (`sequence` counts events). */
function data(sentAt: number | undefined): Record<string, unknown> {
  const n = ++sequence;
  const out: Record<string, unknown> = sentAt === undefined ? { n } : { n, sentAt };
  if (o.sample !== undefined && n % o.sample === 0) out.kind = 'sampled';
  return out;
}

function batch(sentAt?: number): Promise<number> {
  const list = [];
  for (let i = 0; i < o.batch; i++) {
    const id = idOf(sequence);
    list.push({
      specversion: '1.0',
      id,
      source: eventSource,
      type: 'bench.event',
      ...(o.like === 'putevents'
        ? { time: new Date().toISOString(), datacontenttype: 'application/json' }
        : {}),
      data: o.data === 'wide' ? wideData(++sequence) : data(sentAt),
    });
  }
  return send(
    '/events',
    'POST',
    { 'content-type': 'application/cloudevents-batch+json' },
    JSON.stringify(list),
  );
}

/** An EventBridge PutEvents call of `batch` entries, as `@aws-sdk/client-eventbridge` sends it (unsigned). */
function putEvents(sentAt?: number): Promise<number> {
  const entries = [];
  for (let i = 0; i < o.batch; i++) {
    entries.push({ Source: eventSource, DetailType: 'bench.event', Detail: JSON.stringify(data(sentAt)) });
  }
  return send(
    '/',
    'POST',
    { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
    JSON.stringify({ Entries: entries }),
  );
}

const started = performance.now();
const deadline = started + o.seconds * 1000;

async function worker(): Promise<void> {
  while (performance.now() < deadline) {
    const status =
      o.mode === 'batch'
        ? await batch()
        : o.mode === 'putevents'
          ? await putEvents()
          : o.mode === 'get'
            ? await send('/', 'GET', {}, '')
            : await single();
    if (status >= 200 && status < 300) {
      ok++;
      events += o.mode === 'batch' || o.mode === 'putevents' ? o.batch : 1;
    } else failed++;
  }
}

/** Rate mode: how long each request took to be answered, in ms. */
const answers: number[] = [];

function percentile(p: number): number | undefined {
  const sorted = [...answers].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function paced(): Promise<void> {
  const perRequest = o.mode === 'batch-rate' || o.mode === 'putevents-rate' ? o.batch : 1;
  const interval = (1000 * perRequest) / o.rate;
  let next = performance.now();
  const inflight = new Set<Promise<void>>();
  while (performance.now() < deadline) {
    const now = performance.now();
    if (now < next) {
      await new Promise((r) => setTimeout(r, Math.max(0, Math.floor(next - now))));
      continue;
    }
    while (next <= performance.now()) {
      next += interval;
      const sentAt = sharedNow();
      const call =
        o.mode === 'putevents-rate'
          ? putEvents(sentAt)
          : perRequest === 1
            ? single({ sentAt })
            : batch(sentAt);
      const p = call.then((status) => {
        answers.push(sharedNow() - sentAt);
        if (status >= 200 && status < 300) {
          ok++;
          events += perRequest;
        } else failed++;
        inflight.delete(p);
      });
      inflight.add(p);
    }
  }
  await Promise.all(inflight);
}

if (o.mode === 'rate' || o.mode === 'batch-rate' || o.mode === 'putevents-rate') await paced();
else await Promise.all(Array.from({ length: o.concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
const answer = answers.length === 0 ? {} : { answerP50: percentile(50), answerP99: percentile(99) };
process.stdout.write(`${JSON.stringify({ ok, failed, rejected, events, seconds, ...answer })}\n`);
agent.destroy();
