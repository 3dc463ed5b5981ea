/**
 * `junction schemas …` (issue #16) against a running bus: register from a bare schema with flags or from a whole
 * request, unchanged versions, an incompatible version refused with its change named, get/list/version/delete, the
 * bad input refused before any call or by the bus with the flag named.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../lib/cli/cli.ts';
import { startTestBus, type TestBus } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/paths.ts';

describe('junction schemas', () => {
  let bus: TestBus;
  const dir = tempDir('junction-cli-schemas-');
  let url: string[];
  const v1 = {
    type: 'object',
    required: ['invoice', 'amount'],
    properties: { invoice: { type: 'string' }, amount: { type: 'integer', minimum: 0 } },
  };

  before(async () => {
    bus = await startTestBus();
    url = ['--url', bus.url];
  });
  after(async () => {
    await bus.stop();
    dir.remove();
  });

  test('registers a bare schema with flags, then a compatible version; the same schema again is unchanged', async () => {
    const file = join(dir.path, 'invoice.schema.json');
    writeFileSync(file, JSON.stringify(v1));
    const first = await cli([
      'schemas',
      'put',
      'invoices',
      file,
      '--type',
      'com.shop.invoice.issued',
      '--source',
      '/billing',
      ...url,
    ]);
    assert.equal(first.code, EXIT.ok, first.err);
    assert.equal(
      first.out,
      'schema invoices version 1 registered (type com.shop.invoice.issued from /billing*, enforcement reject)\n',
    );
    const again = await cli([
      'schemas',
      'put',
      'invoices',
      file,
      '--type',
      'com.shop.invoice.issued',
      '--source',
      '/billing',
      ...url,
    ]);
    assert.equal(again.code, EXIT.ok, again.err);
    assert.match(again.out, /^schema invoices unchanged: it is version 1 /);

    // A whole request, inline: an added optional property is backward compatible.
    const v2 = { ...v1, properties: { ...v1.properties, note: { type: 'string' } } };
    const second = await cli([
      'schemas',
      'put',
      'invoices',
      JSON.stringify({
        schema: v2,
        binding: { type: 'com.shop.invoice.issued', source: '/billing' },
        enforcement: 'warn',
      }),
      ...url,
    ]);
    assert.equal(second.code, EXIT.ok, second.err);
    assert.match(second.out, /^schema invoices version 2 registered \(.*, enforcement warn\)/);

    const got = await cli(['schemas', 'get', 'invoices', ...url]);
    assert.equal(got.code, EXIT.ok, got.err);
    assert.match(got.out, /^name\s+invoices\n/);
    assert.match(got.out, /\nenforcement\s+warn\n/);
    assert.match(got.out, /\nlatest\s+2\n/);
    assert.match(got.out, /\nversion 1\s+registered \d{4}-/);

    const version = await cli(['schemas', 'version', 'invoices', '1', ...url]);
    assert.equal(version.code, EXIT.ok, version.err);
    assert.deepEqual(JSON.parse(version.out), v1);

    const list = await cli(['schemas', 'list', ...url]);
    assert.match(list.out, /^NAME\s+LATEST\s+BINDING\s+ENFORCEMENT\s+COMPATIBILITY\n/);
    assert.match(
      list.out,
      /\ninvoices\s+2\s+type com\.shop\.invoice\.issued from \/billing\*\s+warn\s+BACKWARD/,
    );
    const json = JSON.parse((await cli(['schemas', 'list', '--json', ...url])).out);
    assert.equal(json.schemas[0].latest, 2);
  });

  test('an incompatible version is refused (exit 1) naming the breaking change; nothing is registered', async () => {
    const v3 = {
      ...v1,
      required: [...v1.required, 'currency'],
      properties: { ...v1.properties, currency: { type: 'string' } },
    };
    const refused = await cli([
      'schemas',
      'put',
      'invoices',
      JSON.stringify(v3),
      '--type',
      'com.shop.invoice.issued',
      '--source',
      '/billing',
      ...url,
    ]);
    assert.equal(refused.code, EXIT.apiError, refused.err);
    assert.match(refused.err, /^IncompatibleSchema.*BACKWARD.*currency/);
    assert.match(refused.err, /docs\/schemas\.md/);
    assert.ok(!refused.err.includes('\n    at '), 'no stack trace');
    assert.match((await cli(['schemas', 'get', 'invoices', ...url])).out, /\nlatest\s+2\n/);
  });

  test('bad input is refused with the flag named, before or by the bus', async () => {
    const both = await cli([
      'schemas',
      'put',
      'x',
      '{"type":"object"}',
      '--type',
      't',
      '--dataschema',
      'urn:x',
      ...url,
    ]);
    assert.equal(both.code, EXIT.usage);
    assert.match(both.err, /--dataschema/);
    const sourceOnly = await cli(['schemas', 'put', 'x', '{"type":"object"}', '--source', '/a', ...url]);
    assert.equal(sourceOnly.code, EXIT.usage);
    assert.match(sourceOnly.err, /--source/);
    const mixed = await cli(['schemas', 'put', 'x', '{"schema":{"type":"object"}}', '--type', 't', ...url]);
    assert.equal(mixed.code, EXIT.usage);
    assert.match(mixed.err, /whole request/);
    const badMode = await cli([
      'schemas',
      'put',
      'x',
      '{"type":"object"}',
      '--type',
      't',
      '--enforcement',
      'loud',
      ...url,
    ]);
    assert.equal(badMode.code, EXIT.apiError);
    assert.match(badMode.err, /^InvalidSchema.*--enforcement/);
    const unbound = await cli(['schemas', 'put', 'x', '{"type":"object"}', ...url]);
    assert.equal(unbound.code, EXIT.apiError);
    assert.match(unbound.err, /^InvalidSchema.*binding/);
    const badVersion = await cli(['schemas', 'version', 'invoices', 'latest', ...url]);
    assert.equal(badVersion.code, EXIT.usage);
    const missing = await cli(['schemas', 'get', 'nope', ...url]);
    assert.equal(missing.code, EXIT.apiError);
    assert.match(missing.err, /junction schemas list/);
  });

  test('delete removes it and its versions', async () => {
    const deleted = await cli(['schemas', 'delete', 'invoices', ...url]);
    assert.equal(deleted.code, EXIT.ok, deleted.err);
    assert.equal(deleted.out, 'deleted schema invoices\n');
    assert.match((await cli(['schemas', 'list', ...url])).out, /^no schemas yet/);
    const gone = await cli(['schemas', 'version', 'invoices', '1', ...url]);
    assert.equal(gone.code, EXIT.apiError);
    assert.match(gone.err, /^NotFound/);
  });
});
