/** Where the vendored test corpora and temp folders live, for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The corpora the tests read (event-ruler, CloudEvents), vendored with their licences: see test/corpus/README.md. */
export const corpusDir = join(repoRoot, 'test', 'corpus');

/** A fresh temp folder, removed by the returned function. */
export function tempDir(prefix = 'junction-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
