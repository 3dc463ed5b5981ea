/**
 * The README tour as written there: its schema, the types `schemas codegen` writes from it and the function typed with
 * them (they type-check, and the function deploys); the hook rule: a dead receiver is dead-lettered within a minute,
 * then redriven.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/events.ts';
import { freePort } from '../helpers/net.ts';
import { repoRoot, tempDir } from '../helpers/paths.ts';
import { typeCheck } from '../helpers/tsc.ts';

/** The body of the README's `PUT /rules/enriched`. */
function tourRule(): { targets: Array<Record<string, unknown>> } & Record<string, unknown> {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const match = /rules\/enriched[^\n]*\n\s*-d '([^']+)'/.exec(readme);
  assert.ok(match, 'the README puts the enriched rule with curl -d');
  return JSON.parse(match[1] as string);
}

/** A heredoc of the README's tour: `cat > NAME <<'END' … END`. */
function heredoc(readme: string, name: string): string {
  const match = new RegExp(`cat > ${name.replace(/\./g, '\\.')} <<'([A-Z]+)'\n([\\s\\S]*?)\n\\1\n`).exec(
    readme,
  );
  assert.ok(match, `the README writes ${name}`);
  return match[2] as string;
}

/** The words of the README's `npm run [-s] junction -- WORDS` line that starts with `start`. */
function junctionLine(readme: string, start: string): string[] {
  const line = readme.split('\n').find((l) => l.replace(/^npm run (-s )?junction -- /, '').startsWith(start));
  assert.ok(line, `the README runs junction ${start}`);
  return line.replace(/^npm run (-s )?junction -- /, '').split(/\s+/);
}

describe('the README tour', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus({ pollMs: 100 });
  });
  after(() => bus.stop());

  it('types its function with the types codegen writes from its schema, and deploys it', async () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const dir = tempDir('junction-tour-');
    try {
      const inDir = (words: string[], file: string) =>
        words.map((w) => (w === file ? join(dir.path, file) : w));
      writeFileSync(join(dir.path, 'order.schema.json'), heredoc(readme, 'order.schema.json'));
      writeFileSync(join(dir.path, 'enrich.ts'), heredoc(readme, 'enrich.ts'));
      const url = ['--url', bus.url];
      const put = await cli([...inDir(junctionLine(readme, 'schemas put'), 'order.schema.json'), ...url]);
      assert.equal(put.code, 0, put.err);
      const codegen = await cli([...inDir(junctionLine(readme, 'schemas codegen'), 'shop-types.ts'), ...url]);
      assert.equal(codegen.code, 0, codegen.err);
      const checked = await typeCheck(dir.path, ['enrich.ts']);
      assert.equal(checked.code, 0, checked.out);
      // The same function reading a field the schema lacks does not type-check: the types are the schema's.
      writeFileSync(
        join(dir.path, 'enrich-typo.ts'),
        heredoc(readme, 'enrich.ts').replace('event.data.total > 500', 'event.data.totl > 500'),
      );
      const typo = await typeCheck(dir.path, ['enrich-typo.ts']);
      assert.notEqual(typo.code, 0);
      assert.match(typo.out, /Property 'totl' does not exist on type 'OrderCreated'/);
      const deploy = await cli([...inDir(junctionLine(readme, 'functions deploy'), 'enrich.ts'), ...url]);
      assert.equal(deploy.code, 0, deploy.err);
    } finally {
      dir.remove();
    }
  });

  it('dead-letters the hook within a minute with the policy it shows, and redrive delivers it', async () => {
    const rule = tourRule();
    const hook = rule.targets[0] as { url: string; retry?: { maxAgeSeconds: number } };
    assert.ok((hook.retry?.maxAgeSeconds ?? 86_400) <= 60, 'the tour gives the hook a short retry policy');
    const port = await freePort();
    hook.url = hook.url.replace('127.0.0.1:9000', `127.0.0.1:${port}`);
    assert.equal((await request(bus.url, 'PUT', '/rules/enriched', rule)).status, 201);
    const published = await request(
      bus.url,
      'POST',
      '/events',
      {
        specversion: '1.0',
        id: 'tour-1',
        source: '/shop',
        type: 'com.shop.order.enriched',
        data: { total: 750 },
      },
      { 'content-type': 'application/cloudevents+json' },
    );
    assert.equal(published.status, 202);
    await waitFor(
      async () =>
        (await request(bus.url, 'GET', '/dead-letters?rule=enriched')).body.deadLetters.length === 1,
      'the dead letter',
      60_000,
    );
    // The letter is written before the delivery is closed; the `dead-lettered` trace (what the bus's terminal
    // prints as `dead letter: …`, the tour's cue to redrive) comes after both. A redrive in between skips the letter.
    await waitFor(
      async () => (await traceOf(bus, 'tour-1', '/shop')).some((e) => e.kind === 'dead-lettered'),
      'the dead-lettered trace',
      60_000,
    );
    const received: string[] = [];
    const receiver = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c;
      });
      req.on('end', () => {
        received.push(body);
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
    try {
      const redrive = await request(bus.url, 'POST', '/dead-letters/redrive', { all: true });
      assert.equal(redrive.body.redriven, 1);
      await waitFor(() => received.length === 1, 'the redriven delivery');
      assert.equal(JSON.parse(received[0] as string).id, 'tour-1');
    } finally {
      await new Promise<void>((resolve) => {
        receiver.close(() => resolve());
        receiver.closeAllConnections();
      });
    }
  });
});
