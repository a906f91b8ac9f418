/**
 * How a function is bundled: the esbuild settings NodejsFunction is given (presence-function.ts),
 * and the same build run directly, with esbuild's metafile, for the tests and the bench to see
 * what each bundle holds and how big it is.
 */
import { statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { PresenceHandler } from './presence-function.ts';

export const BUNDLING = {
  target: 'node22',
  mainFields: ['module', 'main'],
  // Bundled CommonJS dependencies call require(); ESM output has none without this.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  minify: true,
  sourceMap: true,
} as const;

/** Each function's entry module: functions/handlers/lambda/<handler>.ts, exporting `<handler>`. */
export function entryOf(handler: PresenceHandler): string {
  return fileURLToPath(new URL(`../functions/handlers/lambda/${handler}.ts`, import.meta.url));
}

export interface BundleReport {
  /** The bundle (index.mjs), without its source map. */
  bytes: number;
  /** npm packages with code in the bundle, sorted. */
  packages: string[];
  /** Bytes of the bundle per npm package (`(ours)` for this repository's code). */
  bytesByPackage: Record<string, number>;
}

/**
 * Bundles each function as NodejsFunction does, to `<outdir>/<handler>/index.mjs`, in one esbuild
 * build: every bundle is the one a build of that entry alone makes (no code splitting), while the
 * modules they share (the SDK, Powertools) are parsed once.
 */
export async function bundleFunctions(handlers: readonly PresenceHandler[], outdir: string): Promise<Map<PresenceHandler, BundleReport>> {
  const reports = await bundleEntries(
    outdir,
    handlers.map((handler) => ({ in: entryOf(handler), out: join(handler, 'index') })),
  );
  return new Map(handlers.map((handler, index) => [handler, reports[index]!]));
}

/** Bundles any entry module with the functions' settings, to `outfile` (an .mjs path). */
export async function bundleEntry(entry: string, outfile: string): Promise<BundleReport> {
  const [report] = await bundleEntries(dirname(outfile), [{ in: entry, out: basename(outfile, '.mjs') }]);
  return report!;
}

/** One build of several entries, each to `<outdir>/<out>.mjs`; a report per entry, in order. */
async function bundleEntries(outdir: string, entries: { in: string; out: string }[]): Promise<BundleReport[]> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const result = await build({
    entryPoints: entries,
    outdir,
    outExtension: { '.js': '.mjs' },
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLING.target,
    mainFields: [...BUNDLING.mainFields],
    banner: { js: BUNDLING.banner },
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap,
    metafile: true,
    // An entry outside the repository (the bench's) still resolves packages from its node_modules.
    nodePaths: [join(root, 'node_modules')],
    logLevel: 'silent',
  });
  return entries.map((entry) => {
    const outfile = join(outdir, `${entry.out}.mjs`);
    // The metafile names outputs relative to absWorkingDir.
    const output = result.metafile.outputs[relative(root, outfile)];
    if (!output) throw new Error(`esbuild wrote no ${outfile}`);
    const bytesByPackage: Record<string, number> = {};
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (bytesInOutput === 0) continue;
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? '(ours)';
      bytesByPackage[name] = (bytesByPackage[name] ?? 0) + bytesInOutput;
    }
    const packages = Object.keys(bytesByPackage).filter((name) => name !== '(ours)').sort();
    return { bytes: statSync(outfile).size, packages, bytesByPackage };
  });
}
