import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FunctionStore, sha256 } from '../../../lib/adapters/workers/store.ts';
import type { FunctionInfo } from '../../../lib/ports.ts';
import { tempDir } from '../../helpers/paths.ts';

const CODE = 'export const handler = () => {};\n';

function infoFor(name: string, code: string): FunctionInfo {
  return { name, size: code.length, sha256: sha256(code), updatedAt: 1, timeoutMs: 1000, memoryMb: 64 };
}

test('commits a staged bundle with its metadata and reads it back after reopening', async () => {
  const dir = tempDir();
  try {
    const store = await FunctionStore.open(dir.path);
    const staged = await store.stage('f', CODE);
    const stored = await store.commit(staged.path, infoFor('f', CODE));
    assert.equal(readFileSync(new URL(stored.url), 'utf8'), CODE);
    assert.deepEqual(readdirSync(store.directory).sort(), ['f.json', 'f.mjs']);
    const reopened = await FunctionStore.open(dir.path);
    assert.deepEqual(reopened.get('f')?.info, infoFor('f', CODE));
    assert.deepEqual(
      reopened.list().map((fn) => fn.info.name),
      ['f'],
    );
  } finally {
    dir.remove();
  }
});

test('removes temp files and bundles without metadata on open', async () => {
  const dir = tempDir();
  try {
    const store = await FunctionStore.open(dir.path);
    await store.stage('half', CODE);
    writeFileSync(join(store.directory, 'orphan.mjs'), CODE);
    writeFileSync(join(store.directory, 'lonely.json'), JSON.stringify(infoFor('lonely', CODE)));
    const reopened = await FunctionStore.open(dir.path);
    assert.deepEqual(reopened.list(), []);
    assert.deepEqual(readdirSync(store.directory), []);
  } finally {
    dir.remove();
  }
});

test('trusts a bundle renamed in before its metadata was rewritten', async () => {
  const dir = tempDir();
  try {
    const store = await FunctionStore.open(dir.path);
    await store.commit((await store.stage('f', CODE)).path, infoFor('f', CODE));
    const newer = 'export const handler = () => ({ id: "newer" });\n';
    writeFileSync(join(store.directory, 'f.mjs'), newer);
    const reopened = await FunctionStore.open(dir.path);
    assert.equal(reopened.get('f')?.info.sha256, sha256(newer));
    assert.equal(reopened.get('f')?.info.size, newer.length);
  } finally {
    dir.remove();
  }
});

test('deletes a function and its files', async () => {
  const dir = tempDir();
  try {
    const store = await FunctionStore.open(dir.path);
    await store.commit((await store.stage('f', CODE)).path, infoFor('f', CODE));
    assert.equal(await store.delete('f'), true);
    assert.equal(await store.delete('f'), false);
    assert.equal(existsSync(join(store.directory, 'f.mjs')), false);
    assert.equal((await FunctionStore.open(dir.path)).get('f'), undefined);
  } finally {
    dir.remove();
  }
});
