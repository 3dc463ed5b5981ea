/**
 * The web console in the `api` function's bundle (issue #17 on AWS): after esbuild bundles the handler, the console's
 * script is bundled the way the embedded bus bundles it in memory (lib/server/console.ts: esbuild, ESM for the
 * browser, minified) and written with its page and style sheet to `console/` beside `index.mjs`, where
 * functions/api.ts serves them. No CDN and no build step in the Lambda: the assets are in the zip.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CONSOLE_DIR } from '../server/console.ts';

/** The esbuild binary of the installed `esbuild` package (the one CDK's local bundling runs too). */
const ESBUILD = join(
  dirname(createRequire(import.meta.url).resolve('esbuild/package.json')),
  'bin',
  'esbuild',
);

function quote(path: string): string {
  return `'${path.replaceAll("'", "'\\''")}'`;
}

/** Shell commands that write `console/{index.html,app.css,app.js}` into the bundle's output folder. */
export function consoleAssetCommands(outputDir: string): string[] {
  const out = join(outputDir, 'console');
  return [
    `mkdir -p ${quote(out)}`,
    `cp ${quote(join(CONSOLE_DIR, 'index.html'))} ${quote(join(CONSOLE_DIR, 'app.css'))} ${quote(out)}`,
    [
      quote(ESBUILD),
      quote(join(CONSOLE_DIR, 'main.ts')),
      '--bundle',
      '--format=esm',
      '--platform=browser',
      '--target=es2022',
      '--minify',
      '--legal-comments=none',
      '--log-level=warning',
      `--outfile=${quote(join(out, 'app.js'))}`,
    ].join(' '),
  ];
}
