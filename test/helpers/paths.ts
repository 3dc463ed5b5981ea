/** Where the shared material (../shared) and temp folders live, for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared/ folder beside the clone (design, corpus, research). Override with JUNCTION_SHARED. */
export const sharedDir = process.env.JUNCTION_SHARED ?? resolve(repoRoot, '..', 'shared');

export const corpusDir = join(sharedDir, 'corpus');

/** A fresh temp folder, removed by the returned function. */
export function tempDir(prefix = 'junction-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
