/** Runs every case of the CESQL v1.0.0 TCK (test/corpus/cloudevents/cesql-tck, provenance in test/corpus/README.md) as one test each. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { evaluateCesql } from '../../../lib/core/cesql/index.ts';
import { corpusDir } from '../../helpers/paths.ts';

interface TckCase {
  readonly result?: boolean | number | string;
  readonly error?: string;
  readonly event?: Record<string, unknown>;
  readonly eventOverrides?: Record<string, unknown>;
}

const tckDir = join(corpusDir, 'cloudevents', 'cesql-tck');

/** Any valid event: the TCK says so when a case gives neither `event` nor all the attributes it reads. */
const baseEvent = { specversion: '1.0', id: 'tckId', source: 'tck.example', type: 'tck.type' };

const files = readdirSync(tckDir)
  .filter((file) => file.endsWith('.yaml'))
  .sort();

let total = 0;
for (const file of files) {
  const source = readFileSync(join(tckDir, file), 'utf8');
  // The YAML 1.2 core schema keeps unquoted timestamps as strings; the failsafe schema keeps every scalar as
  // written, for names and expressions such as `TRUE` or `-10`.
  const suite = parse(source, { schema: 'core' }) as { tests: TckCase[] };
  const verbatim = parse(source, { schema: 'failsafe' }) as { tests: { name: string; expression: string }[] };
  suite.tests.forEach((tc, index) => {
    const { name, expression } = verbatim.tests[index]!;
    total += 1;
    test(`${file}: ${name}`, () => {
      const event = tc.event ?? { ...baseEvent, ...tc.eventOverrides };
      const result = evaluateCesql(expression, event);
      if (tc.result !== undefined) assert.equal(result.value, tc.result);
      if (tc.error === undefined) {
        assert.deepEqual(result.errors, []);
      } else {
        assert.ok(
          result.errors.length > 0 && result.errors.every((error) => error.kind === tc.error),
          `expected only ${tc.error} errors, got ${JSON.stringify(result.errors)}`,
        );
      }
    });
  });
}

test('the TCK holds 275 cases in 18 files', () => {
  assert.equal(files.length, 18);
  assert.equal(total, 275);
});
