/**
 * The ```ts snippets of README.md and docs/*.md run as shown: each is saved as a file at the repository's root
 * (its `./lib/…` imports resolve as they would for a reader) and run with this Node, against a real embedded bus
 * (`JUNCTION_URL`) and dynalite (`DYNAMODB_ENDPOINT`). A snippet that cannot run says why in `<!-- norun: … -->`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { globSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestBus, type TestBus } from '../helpers/bus.ts';
import { type Snippet, tsSnippets } from '../helpers/doc-examples.ts';
import { type Dynalite, startDynalite } from '../helpers/dynalite.ts';
import { repoRoot } from '../helpers/paths.ts';

const files = [join(repoRoot, 'README.md'), ...globSync(join(repoRoot, 'docs', '*.md')).sort()];
const snippets = files.flatMap((file) => tsSnippets(file, relative(repoRoot, file)));

/** How long one snippet may run before it counts as hanging. */
const SNIPPET_TIMEOUT_MS = 60_000;

/** A snippet's code for a file `depth` folders below the repository's root: its `./x` imports become `../x`. */
function relocated(code: string, depth: number): string {
  return code.replace(/(from\s+|import\s*\(\s*)(['"])\.\//g, `$1$2${'../'.repeat(depth)}`);
}

/** Runs a script with this Node; answers its exit code and output. Bounded by a timeout and an output cap. */
function runNode(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...args], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      if (output.length < 20_000) output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      output += `\n(killed after ${SNIPPET_TIMEOUT_MS} ms)`;
      child.kill('SIGKILL');
    }, SNIPPET_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the TypeScript snippets of the docs', () => {
  it('are found, and each one that does not run says why', () => {
    assert.ok(snippets.length >= 10, `only ${snippets.length} snippets found`);
    assert.ok(snippets.some((s) => s.mode === 'run'));
    for (const s of snippets) if (s.mode === 'norun') assert.ok((s.reason ?? '').length >= 10, s.where);
  });
});

describe('the runnable TypeScript snippets, as shown, against a bus', () => {
  let bus: TestBus;
  let dynamo: Dynalite;
  let dir: string;
  before(async () => {
    bus = await startTestBus();
    dynamo = await startDynalite();
    // In the repository, so that bare imports resolve from its node_modules; `./x` imports are rewritten to `../x`.
    dir = mkdtempSync(join(repoRoot, '.snippets-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await dynamo.stop();
    await bus.stop();
  });

  const runnable = snippets.filter((s): s is Snippet & { mode: 'run' } => s.mode === 'run');

  it("type-checks them with the project's tsconfig (Node only strips the types)", async () => {
    const checkDir = join(dir, 'typecheck');
    mkdirSync(checkDir);
    runnable.forEach((snippet, i) => {
      writeFileSync(join(checkDir, `snippet-${i}.ts`), `// ${snippet.where}\n${relocated(snippet.code, 2)}`);
    });
    writeFileSync(
      join(checkDir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../tsconfig.json',
        compilerOptions: { moduleDetection: 'force' },
        include: ['*.ts'],
      }),
    );
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const { code, output } = await runNode(
      [tsc, '--noEmit', '-p', join(checkDir, 'tsconfig.json')],
      process.env,
    );
    assert.equal(code, 0, `tsc found errors (each file's first line names its snippet):\n${output}`);
  });

  runnable.forEach((snippet, i) => {
    it(`runs ${snippet.where}`, async () => {
      const file = join(dir, `snippet-${i}.ts`);
      writeFileSync(file, relocated(snippet.code, 1));
      const { code, output } = await runNode([file], {
        ...process.env,
        JUNCTION_URL: bus.url,
        DYNAMODB_ENDPOINT: dynamo.endpoint,
      });
      assert.equal(code, 0, `${snippet.where} exited with ${code}:\n${output}`);
    });
  });
});
