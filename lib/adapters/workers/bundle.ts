/**
 * Bundles a user function with esbuild: one TypeScript/JavaScript module, or a zip with `index.ts|index.js` at
 * its root, into one ESM file for Node 22. Node builtins stay imports; bare package imports are bundled from
 * `resolveDir`'s node_modules (the project's) when the package is installed there, else the build fails.
 */
import { dirname, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildFailure, build, type Loader, type Message, type Plugin } from 'esbuild';
import { JunctionError } from '../../core/errors.ts';
import { isZip, readZip } from './zip.ts';

/** The repository root: bare imports in user functions resolve from its node_modules. */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface BundleOptions {
  /** The function's name (names the virtual source file in messages). */
  readonly name: string;
  /** Where bare package imports resolve from. @default the project root */
  readonly resolveDir?: string;
}

/** One build error, as `details.errors` carries it. */
export interface BuildErrorDetail {
  readonly file?: string;
  /** 1-based. */
  readonly line?: number;
  /** 1-based. */
  readonly column?: number;
  readonly message: string;
}

const ZIP_NAMESPACE = 'junction-zip';
const ENTRY_NAMES = ['index.ts', 'index.mts', 'index.js', 'index.mjs'];
const LOADERS: Record<string, Loader> = {
  '.ts': 'ts',
  '.mts': 'ts',
  '.cts': 'ts',
  '.js': 'js',
  '.mjs': 'js',
  '.cjs': 'js',
  '.json': 'json',
};
const RESOLVE_SUFFIXES = ['', '.ts', '.mts', '.js', '.mjs', '.cjs', '.json', '/index.ts', '/index.js'];

/** Bundles a function's source (module text or zip bytes) into the text of one ESM module. */
export async function bundleFunction(source: Uint8Array, options: BundleOptions): Promise<string> {
  const resolveDir = resolve(options.resolveDir ?? projectRoot);
  const common = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    absWorkingDir: resolveDir,
  } as const;
  try {
    const files = isZip(source) ? readZip(source) : undefined;
    const result = files
      ? await build({
          ...common,
          entryPoints: [`${ZIP_NAMESPACE}:${zipEntry(files)}`],
          plugins: [zipPlugin(files, resolveDir)],
        })
      : await build({
          ...common,
          stdin: {
            contents: decodeSource(source),
            loader: 'ts',
            resolveDir,
            sourcefile: `${options.name}.ts`,
          },
          plugins: [singleModulePlugin(resolve(resolveDir, `${options.name}.ts`))],
        });
    const output = result.outputFiles[0];
    if (output === undefined) throw new JunctionError('Internal', 'esbuild produced no output');
    return output.text;
  } catch (error) {
    if (isBuildFailure(error)) throw buildError(error.errors);
    throw error;
  }
}

function decodeSource(source: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(source);
  } catch {
    throw new JunctionError('InvalidFunction', 'source is not UTF-8 text: upload a single module or a zip', {
      field: 'source',
    });
  }
}

function isBuildFailure(error: unknown): error is BuildFailure {
  return error instanceof Error && Array.isArray((error as Partial<BuildFailure>).errors);
}

function buildError(messages: readonly Message[]): JunctionError {
  const errors: BuildErrorDetail[] = messages.map((message) => {
    const where = message.location;
    if (where === null) return { message: message.text };
    const file = where.file.replace(`${ZIP_NAMESPACE}:`, '');
    return { file, line: where.line, column: where.column + 1, message: message.text };
  });
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  const text =
    first === undefined
      ? 'the function does not build'
      : first.line === undefined
        ? first.message
        : `${first.line}:${first.column}: ${first.message}`;
  return new JunctionError('InvalidFunction', text + more, { field: 'source', details: { errors } });
}

/** A single uploaded module has no neighbours: relative and absolute imports from it cannot resolve. */
function singleModulePlugin(entryPath: string): Plugin {
  return {
    name: 'junction-single-module',
    setup(builder) {
      builder.onResolve({ filter: /^(\.{1,2}\/|\/)/ }, (args) => {
        if (args.importer !== entryPath && args.importer !== '<stdin>') return undefined;
        return {
          errors: [
            { text: `cannot import "${args.path}" from a single module: upload a zip to ship several files` },
          ],
        };
      });
    },
  };
}

function zipEntry(files: ReadonlyMap<string, Uint8Array>): string {
  const entry = ENTRY_NAMES.find((name) => files.has(name));
  if (entry === undefined) {
    const listed = [...files.keys()].slice(0, 10).join(', ') || 'no files';
    throw new JunctionError(
      'InvalidFunction',
      `the zip has no index.ts or index.js at its root (it has: ${listed})`,
      {
        field: 'source',
      },
    );
  }
  return entry;
}

/** Serves the zip's files to esbuild from memory; bare imports fall through to `resolveDir`'s node_modules. */
function zipPlugin(files: ReadonlyMap<string, Uint8Array>, resolveDir: string): Plugin {
  const decoder = new TextDecoder();
  return {
    name: 'junction-zip',
    setup(builder) {
      builder.onResolve({ filter: new RegExp(`^${ZIP_NAMESPACE}:`) }, (args) => ({
        path: args.path.slice(ZIP_NAMESPACE.length + 1),
        namespace: ZIP_NAMESPACE,
      }));
      builder.onResolve({ filter: /^(\.{1,2}\/|\/)/, namespace: ZIP_NAMESPACE }, (args) => {
        const wanted = posix
          .normalize(posix.join(posix.dirname(args.importer), args.path))
          .replace(/^\/+/, '');
        const candidates = RESOLVE_SUFFIXES.map((suffix) => wanted + suffix);
        if (wanted.endsWith('.js')) candidates.push(`${wanted.slice(0, -3)}.ts`);
        const found = candidates.find((candidate) => files.has(candidate));
        if (found !== undefined) return { path: found, namespace: ZIP_NAMESPACE };
        return { errors: [{ text: `cannot find "${args.path}" in the zip (looked for ${wanted})` }] };
      });
      builder.onLoad({ filter: /.*/, namespace: ZIP_NAMESPACE }, (args) => {
        const bytes = files.get(args.path);
        if (bytes === undefined) return { errors: [{ text: `"${args.path}" is not in the zip` }] };
        const loader = LOADERS[posix.extname(args.path)];
        if (loader === undefined) return { contents: bytes, loader: 'text', resolveDir };
        return { contents: decoder.decode(bytes), loader, resolveDir };
      });
    },
  };
}
