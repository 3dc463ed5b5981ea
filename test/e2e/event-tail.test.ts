/**
 * `GET /events/tail` (issue #17, the console's live tail): server-sent events of what the log accepts from now on,
 * filtered by a pattern or CESQL filter, resumable with Last-Event-ID, bounded, per bus and behind the bus's keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TAIL_LIMITS } from '../../lib/engine/event-tail.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { openSse, type SseStream } from '../helpers/sse.ts';

const CE = { 'content-type': 'application/cloudevents+json' };
const BATCH = { 'content-type': 'application/cloudevents-batch+json' };
const ce = (id: string, type: string, data: unknown = { n: 1 }) => ({
  specversion: '1.0',
  id,
  source: '/tail',
  type,
  data,
});
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const ids = (s: SseStream) =>
  s.frames.filter((f) => f.event === 'cloudevent').map((f) => JSON.parse(f.data).event.id as string);

describe('GET /events/tail', () => {
  let bus: TestBus;
  const open: SseStream[] = [];
  const tail = async (path: string, headers: Record<string, string> = {}) => {
    const s = await openSse(`${bus.url}${path}`, headers);
    open.push(s);
    return s;
  };
  before(async () => {
    bus = await startTestBus({ partitions: 3 });
  });
  after(async () => {
    for (const s of open) s.close();
    await bus?.stop();
  });

  test('streams only events accepted after it opened that match the pattern, in each partition order', async () => {
    await request(bus.url, 'POST', '/events', ce('before-1', 'order.created'), CE);
    const s = await tail(`/events/tail?pattern=${encodeURIComponent('{"type":["order.created"]}')}`);
    assert.equal(s.status, 200);
    assert.match(s.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(s.headers.get('cache-control'), 'no-store');
    await s.until(() => s.comments.includes('tailing'), 'the tail to start');
    const events = Array.from({ length: 30 }, (_, i) =>
      ce(`t-${i}`, i % 3 === 0 ? 'order.created' : 'order.paid', { n: i }),
    );
    const res = await request(bus.url, 'POST', '/events', JSON.stringify(events), BATCH);
    assert.equal(res.body.accepted, 30);
    await s.until(() => ids(s).length >= 10, 'the ten matching events');
    assert.deepEqual(
      ids(s).sort(),
      events
        .filter((e) => e.type === 'order.created')
        .map((e) => e.id)
        .sort(),
      'neither the event before the tail nor the non-matching ones',
    );
    const frames = s.frames.filter((f) => f.event === 'cloudevent').map((f) => JSON.parse(f.data));
    for (const p of [0, 1, 2]) {
      const offsets = frames.filter((f) => f.partition === p).map((f) => f.offset);
      assert.deepEqual(
        offsets,
        [...offsets].sort((a, b) => a - b),
        `partition ${p} in log order`,
      );
    }
    assert.deepEqual(frames.find((f) => f.event.id === 't-3').event.data, { n: 3 });
    assert.ok(!Number.isNaN(Date.parse(frames[0].acceptedAt)));
    // Each frame's id is the cursor after it: one next offset per partition.
    for (const f of s.frames) assert.match(f.id ?? '', /^\d+\.\d+\.\d+$/);
    s.close();
  });

  test('a CESQL filter, and an EventBridge-shaped pattern, select as rules do', async () => {
    const byFilter = await tail(`/events/tail?filter=${encodeURIComponent("type = 'x.sql' AND data.n > 5")}`);
    const byEb = await tail(`/events/tail?pattern=${encodeURIComponent('{"detail-type":["x.eb"]}')}`);
    await byFilter.until(() => byFilter.comments.includes('tailing'), 'the filter tail to start');
    await byEb.until(() => byEb.comments.includes('tailing'), 'the pattern tail to start');
    const events = [ce('f-1', 'x.sql', { n: 1 }), ce('f-2', 'x.sql', { n: 9 }), ce('f-3', 'x.eb')];
    await request(bus.url, 'POST', '/events', JSON.stringify(events), BATCH);
    await byFilter.until(() => ids(byFilter).length >= 1, 'the filtered event');
    await byEb.until(() => ids(byEb).length >= 1, 'the detail-type event');
    await request(bus.url, 'POST', '/events', ce('f-4', 'x.sql', { n: 10 }), CE);
    await byFilter.until(() => ids(byFilter).length >= 2, 'the second filtered event');
    assert.deepEqual(ids(byFilter), ['f-2', 'f-4']);
    assert.deepEqual(ids(byEb), ['f-3']);
    byFilter.close();
    byEb.close();
  });

  test('Last-Event-ID resumes where the client was: nothing lost, nothing twice', async () => {
    const pattern = encodeURIComponent('{"type":["resume"]}');
    const first = await tail(`/events/tail?pattern=${pattern}`);
    await first.until(() => first.comments.includes('tailing'), 'the tail to start');
    for (let i = 0; i < 5; i++) await request(bus.url, 'POST', '/events', ce(`r-${i}`, 'resume'), CE);
    await first.until(() => ids(first).length >= 5, 'five events');
    const last = first.frames.at(-1)?.id as string;
    first.close();
    for (let i = 5; i < 12; i++) await request(bus.url, 'POST', '/events', ce(`r-${i}`, 'resume'), CE);
    const second = await tail(`/events/tail?pattern=${pattern}`, { 'last-event-id': last });
    await second.until(() => ids(second).length >= 7, 'the seven events sent while away');
    assert.deepEqual(ids(second).sort(), Array.from({ length: 7 }, (_, i) => `r-${i + 5}`).sort());
    // The cursor works as a query parameter too (a client that cannot set headers).
    const third = await tail(`/events/tail?pattern=${pattern}&cursor=${last}`);
    await third.until(() => ids(third).length >= 7, 'the same seven');
    assert.deepEqual(ids(third).sort(), ids(second).sort());
    second.close();
    third.close();
  });

  test('refuses bad input with a 400 naming the field, before any stream', async () => {
    for (const [query, headers, code, field] of [
      ['pattern=%7Bnot%20json', {}, 'InvalidPattern', 'pattern'],
      [`pattern=${encodeURIComponent('{"type":"not-an-array"}')}`, {}, 'InvalidPattern', 'pattern'],
      [`filter=${encodeURIComponent('type = ')}`, {}, 'InvalidFilter', 'filter'],
      ['', { 'last-event-id': '1.2' }, 'InvalidRequest', 'Last-Event-ID'],
      ['cursor=1.x.3', {}, 'InvalidRequest', 'Last-Event-ID'],
      ['', { 'last-event-id': '9'.repeat(5000) }, 'InvalidRequest', 'Last-Event-ID'],
    ] as const) {
      const res = await request(bus.url, 'GET', `/events/tail?${query}`, undefined, headers);
      assert.equal(res.status, 400, `${query} ${JSON.stringify(headers).slice(0, 60)}`);
      assert.equal(res.body.error.code, code);
      assert.equal(res.body.error.field, field);
      assert.doesNotMatch(JSON.stringify(res.body), /at .*\.ts:\d+/, 'no stack trace');
    }
    const post = await request(bus.url, 'POST', '/events/tail', {}, {});
    assert.equal(post.status, 405);
  });

  test('a tail that falls behind skips ahead and says how much, instead of queueing without bound', async () => {
    // One partition's backlog past maxLag: the cursor of a client long gone.
    const events = Array.from({ length: DEFAULT_TAIL_LIMITS.maxLag + 500 }, (_, i) => ({
      ...ce(`lag-${i}`, 'lag'),
      partitionkey: 'one',
    }));
    const ends = async () => {
      const s = await tail('/events/tail?pattern=%7B%22type%22%3A%5B%22none%22%5D%7D');
      await s.until(() => s.comments.includes('tailing'), 'a tail to start');
      await request(bus.url, 'POST', '/events', ce('marker', 'none'), CE);
      await s.until(() => s.frames.length >= 1, 'the marker');
      const id = s.frames[0]?.id as string;
      s.close();
      return id;
    };
    const cursor = await ends();
    for (let i = 0; i < events.length; i += 500) {
      const res = await request(bus.url, 'POST', '/events', JSON.stringify(events.slice(i, i + 500)), BATCH);
      assert.equal(res.body.accepted, 500);
    }
    const s = await tail('/events/tail?pattern=%7B%22type%22%3A%5B%22lag%22%5D%7D', {
      'last-event-id': cursor,
    });
    await s.until((f) => f.some((x) => x.event === 'skipped'), 'a skipped frame');
    await s.until(() => ids(s).length >= DEFAULT_TAIL_LIMITS.maxLag, 'the events within maxLag');
    const skipped = JSON.parse(s.frames.find((f) => f.event === 'skipped')?.data as string);
    assert.equal(skipped.skipped, 500);
    assert.equal(ids(s).length, DEFAULT_TAIL_LIMITS.maxLag);
    assert.equal(ids(s)[0], 'lag-500', 'the newest maxLag events, from the oldest of them');
    s.close();
  });

  test('at most maxTails tails at once (429 with Retry-After past that); closing one frees its place', async () => {
    const many: SseStream[] = [];
    for (let i = 0; i < DEFAULT_TAIL_LIMITS.maxTails; i++) {
      const s = await tail('/events/tail');
      await s.until(() => s.comments.includes('tailing'), `tail ${i} to start`);
      many.push(s);
    }
    const refused = await request(bus.url, 'GET', '/events/tail');
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'RateLimited');
    assert.equal(refused.headers.get('retry-after'), '5');
    many[0]?.close();
    let again: SseStream | undefined;
    await (async () => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const s = await tail('/events/tail');
        if (s.status === 200) {
          again = s;
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    assert.ok(again, 'a place came free once a tail closed');
    for (const s of [...many, again]) s?.close();
  });
});

describe('GET /events/tail on named buses, under authentication', () => {
  let bus: TestBus;
  const open: SseStream[] = [];
  after(async () => {
    for (const s of open) s.close();
    await bus?.stop();
  });

  test("a bus's tail shows only its events, and a key of another bus cannot open it", async () => {
    bus = await startTestBus();
    const admin = (await request(bus.url, 'POST', '/keys', { name: 'admin', scope: 'manage' })).body.key;
    for (const name of ['a', 'b']) await request(bus.url, 'PUT', `/buses/${name}`, {}, bearer(admin));
    const aRead = (
      await request(bus.url, 'POST', '/keys', { name: 'ar', scope: 'read', bus: 'a' }, bearer(admin))
    ).body.key;
    const aPub = (
      await request(bus.url, 'POST', '/keys', { name: 'ap', scope: 'publish', bus: 'a' }, bearer(admin))
    ).body.key;
    const refused = await request(bus.url, 'GET', '/buses/b/events/tail', undefined, bearer(aRead));
    assert.equal(refused.status, 403);
    const unauth = await request(bus.url, 'GET', '/buses/a/events/tail');
    assert.equal(unauth.status, 401);
    const noRead = await request(bus.url, 'GET', '/buses/a/events/tail', undefined, bearer(aPub));
    assert.equal(noRead.status, 403, 'a publish key does not read');
    const bKey = (
      await request(bus.url, 'POST', '/keys', { name: 'bm', scope: 'manage', bus: 'b' }, bearer(admin))
    ).body.key;
    const a = await openSse(`${bus.url}/buses/a/events/tail`, bearer(aRead));
    const b = await openSse(`${bus.url}/buses/b/events/tail`, bearer(bKey));
    open.push(a, b);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    await a.until(() => a.comments.includes('tailing'), 'a tail of a');
    await b.until(() => b.comments.includes('tailing'), 'a tail of b');
    const bPub = (
      await request(bus.url, 'POST', '/keys', { name: 'bp', scope: 'publish', bus: 'b' }, bearer(admin))
    ).body.key;
    const sent = await request(bus.url, 'POST', '/buses/b/events', ce('on-b', 't'), {
      ...CE,
      ...bearer(bPub),
    });
    assert.equal(sent.status, 202);
    await request(bus.url, 'POST', '/buses/a/events', ce('on-a', 't'), { ...CE, ...bearer(aPub) });
    await a.until(() => ids(a).length >= 1, "a's event");
    await b.until(() => ids(b).length >= 1, "b's event");
    await request(bus.url, 'POST', '/buses/a/events', ce('on-a-2', 't'), { ...CE, ...bearer(aPub) });
    await a.until(() => ids(a).length >= 2, "a's second event");
    assert.deepEqual(ids(a), ['on-a', 'on-a-2']);
    assert.deepEqual(ids(b), ['on-b']);
  });

  test('stopping the bus ends open tails and is not held up by them', async () => {
    const s = open[0] as SseStream;
    await bus.stop();
    await s.until(() => s.ended(), 'the stream to end');
  });
});
