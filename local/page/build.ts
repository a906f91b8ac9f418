/** Bundles the team page with the local esbuild at start-up: no CDN, no internet, no build step. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build, stop } from 'esbuild';
import type { PageAssets } from '#local/http-server.ts';

const here = import.meta.dirname;

export async function buildPage(): Promise<PageAssets> {
  const [html, bundle] = await Promise.all([
    readFile(join(here, 'index.html'), 'utf8'),
    build({
      entryPoints: [join(here, 'app.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      sourcemap: 'inline',
      logLevel: 'silent',
    }),
  ]);
  // esbuild keeps a service process for later builds; there are none, and it must not outlive us.
  await stop();
  const script = bundle.outputFiles[0]?.text;
  if (script === undefined) throw new Error('esbuild produced no page bundle');
  return { html, script };
}
