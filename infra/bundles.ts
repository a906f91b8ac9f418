/**
 * How a function is bundled: the esbuild settings NodejsFunction is given (presence-function.ts),
 * and the same build run directly, with esbuild's metafile, for the tests and the bench to see
 * what each bundle holds and how big it is.
 */
import { statSync } from 'node:fs';
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

/** Bundles one function as NodejsFunction does, to `outfile` (an .mjs path). */
export function bundleFunction(handler: PresenceHandler, outfile: string): Promise<BundleReport> {
  return bundleEntry(entryOf(handler), outfile);
}

/** Bundles any entry module with the functions' settings, to `outfile` (an .mjs path). */
export async function bundleEntry(entry: string, outfile: string): Promise<BundleReport> {
  const result = await build({
    entryPoints: [entry],
    outfile,
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
    nodePaths: [fileURLToPath(new URL('../node_modules', import.meta.url))],
    logLevel: 'silent',
  });
  const bytesByPackage: Record<string, number> = {};
  const output = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith('.mjs'))?.[1];
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    if (bytesInOutput === 0) continue;
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? '(ours)';
    bytesByPackage[name] = (bytesByPackage[name] ?? 0) + bytesInOutput;
  }
  const packages = Object.keys(bytesByPackage).filter((name) => name !== '(ours)').sort();
  return { bytes: statSync(outfile).size, packages, bytesByPackage };
}
