/**
 * A bounded, seeded fuzz run in `npm test`: a few thousand generated requests to every endpoint of a real
 * embedded bus; no 5xx, no hang, a JSON error code on every 4xx, and the bus healthy after. The long run is
 * `npm run fuzz -- --inputs 100000` (test/fuzz/run.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestBus, type TestBus } from '../helpers/bus.ts';
import { formatFinding, formatTable, judge, runFuzz } from './fuzzer.ts';
import { ENDPOINTS, generateRequest } from './requests.ts';

const SEED = 20_260_101;
const INPUTS = 3_000;

describe('API fuzz', () => {
  let bus: TestBus;
  const errors: unknown[] = [];
  before(async () => {
    bus = await startTestBus({ onError: (error) => errors.push(error) });
  });
  after(() => bus.stop());

  it('generates the same request for the same seed and index, and different ones otherwise', () => {
    const a = generateRequest(SEED, 42);
    assert.deepEqual(generateRequest(SEED, 42), a);
    const others = Array.from({ length: 20 }, (_, i) => generateRequest(SEED + 1, i));
    assert.ok(others.some((b) => b.path !== a.path || Buffer.compare(b.body, a.body) !== 0));
  });

  it('judges a 5xx, a 4xx without an error code and bad JSON as findings, and a coded 4xx as fine', () => {
    const post = generateRequest(SEED, 0);
    assert.equal(judge(post, 500, 'application/json', '{"error":{"code":"Internal"}}')?.kind, '5xx');
    assert.equal(judge(post, 503, undefined, '')?.kind, '5xx');
    assert.equal(judge(post, 400, 'application/json', '')?.kind, 'error body');
    assert.equal(judge(post, 404, 'application/json', '{"message":"x"}')?.kind, 'error body');
    assert.equal(judge(post, 200, 'application/json', '{"a":')?.kind, 'bad json');
    assert.equal(
      judge(post, 400, 'application/json', '{"error":{"code":"InvalidJson","message":"m"}}'),
      undefined,
    );
    assert.equal(
      judge({ ...post, aws: true }, 400, 'application/x-amz-json-1.1', '{"__type":"X"}'),
      undefined,
    );
  });

  it(`answers ${INPUTS} seeded inputs over every endpoint without a 5xx, a hang or an uncoded 4xx`, async () => {
    const report = await runFuzz({
      url: bus.url,
      seed: SEED,
      inputs: INPUTS,
      concurrency: 4,
      deadlineMs: 30_000,
    });
    const shown = report.findings.slice(0, 10).map((f) => formatFinding(f, SEED, 500));
    assert.deepEqual(
      shown,
      [],
      `${report.findings.length} findings:\n${shown.join('\n\n')}\n\n${formatTable(report)}`,
    );
    assert.equal(report.inputs, INPUTS);
    assert.deepEqual(
      ENDPOINTS.filter((e) => !report.counts.has(e)),
      [],
      'every endpoint got requests',
    );
    assert.deepEqual(errors, [], 'the bus reported no unexpected error');
  });
});
