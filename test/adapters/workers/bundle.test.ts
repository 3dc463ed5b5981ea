import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundleFunction } from '../../../lib/adapters/workers/bundle.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import { makeZip } from './make-zip.ts';

const text = (source: string): Uint8Array => new TextEncoder().encode(source);

async function buildError(source: Uint8Array): Promise<JunctionError> {
  try {
    await bundleFunction(source, { name: 'f' });
  } catch (error) {
    assert.ok(error instanceof JunctionError);
    assert.equal(error.code, 'InvalidFunction');
    assert.equal(error.field, 'source');
    return error;
  }
  assert.fail('expected the build to fail');
}

test('bundles a TypeScript module into ESM without type syntax', async () => {
  const code = await bundleFunction(
    text('export const handler = (e: { id: string }): string => e.id as string;\n'),
    {
      name: 'f',
    },
  );
  assert.match(code, /export\s*\{/);
  assert.doesNotMatch(code, /: string/);
});

test('keeps node builtins as imports', async () => {
  const code = await bundleFunction(
    text('import { createHash } from "node:crypto";\nexport const handler = () => createHash;\n'),
    {
      name: 'f',
    },
  );
  assert.match(code, /from "node:crypto"/);
});

test('bundles an installed package from the project node_modules', async () => {
  const code = await bundleFunction(
    text('import { parse } from "yaml";\nexport const handler = () => parse("a: 1");\n'),
    {
      name: 'f',
    },
  );
  assert.doesNotMatch(code, /from "yaml"/);
  assert.ok(code.length > 10_000);
});

test('names the line and column of a syntax error and lists every error in details', async () => {
  const error = await buildError(text('export function handler() {\n  return {;\n}\n'));
  assert.match(error.message, /^2:\d+: /);
  const errors = error.details?.errors as { line: number; column: number; message: string }[];
  assert.equal(errors[0]?.line, 2);
  assert.ok((errors[0]?.column ?? 0) >= 1);
});

test('rejects a package that is not installed', async () => {
  const error = await buildError(
    text('import x from "no-such-package-junction";\nexport const handler = () => x;\n'),
  );
  assert.match(error.message, /^1:\d+: .*no-such-package-junction/);
});

test('rejects relative imports from a single module', async () => {
  const error = await buildError(text('import { x } from "./helper.ts";\nexport const handler = () => x;\n'));
  assert.match(error.message, /upload a zip/);
});

test('rejects source that is not UTF-8', async () => {
  const error = await buildError(new Uint8Array([0xff, 0xfe, 0x00, 0x41]));
  assert.match(error.message, /not UTF-8/);
});

test('bundles a zip whose index imports its neighbours', async () => {
  const zip = makeZip([
    {
      name: 'index.ts',
      contents: 'import { twice } from "./lib/math.js";\nexport const handler = () => twice(21);\n',
    },
    { name: 'lib/math.ts', contents: 'export const twice = (n: number): number => n * 2;\n' },
  ]);
  const code = await bundleFunction(zip, { name: 'f' });
  assert.match(code, /n \* 2/);
});

test('rejects a zip without index.ts or index.js at its root', async () => {
  const error = await buildError(makeZip([{ name: 'src/index.ts', contents: 'export const handler = 1;' }]));
  assert.match(error.message, /no index\.ts or index\.js at its root.*src\/index\.ts/);
});

test('names the file of an error inside a zip', async () => {
  const zip = makeZip([
    { name: 'index.js', contents: 'import "./broken.js";\nexport const handler = () => 1;\n' },
    { name: 'broken.js', contents: 'let = ;\n' },
  ]);
  const error = await buildError(zip);
  const errors = error.details?.errors as { file?: string }[];
  assert.equal(errors[0]?.file, 'broken.js');
});

test('rejects a zip that imports a file it does not hold', async () => {
  const zip = makeZip([
    { name: 'index.ts', contents: 'import "./gone.ts";\nexport const handler = () => 1;\n' },
  ]);
  const error = await buildError(zip);
  assert.match(error.message, /cannot find "\.\/gone\.ts" in the zip/);
});
