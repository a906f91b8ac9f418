/**
 * Each function's bundle, built as CDK builds it (infra/bundles.ts): its size, the SDK clients in
 * it, what the Powertools Tracer (with the X-Ray SDK) adds, and its cold start as module load time
 * under Node: a fresh process imports the bundle, as Lambda's runtime does before the first
 * invocation. The median of several fresh processes per function.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleEntry, bundleFunctions } from '../infra/bundles.ts';
import { PRESENCE_HANDLERS, type PresenceHandler } from '../infra/presence-function.ts';

const TRACER_PACKAGES = ['@aws-lambda-powertools/tracer', 'aws-xray-sdk-core'];

/** What a function's module top level reads, as the stack configures it (no value is used before an invocation). */
const ENV = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'eu-west-1',
  AWS_LAMBDA_FUNCTION_NAME: 'presence-bench',
  POWERTOOLS_SERVICE_NAME: 'presence-bench',
  POWERTOOLS_METRICS_NAMESPACE: 'PresenceBench',
  POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** Milliseconds from the start of a fresh Node process's import of `file` to its end; the median of `runs`. */
function moduleLoadMs(file: string, runs: number): number {
  const script = `const t=performance.now();await import(${JSON.stringify(pathToFileURL(file).href)});process.stdout.write(String(performance.now()-t));`;
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: ENV, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`loading ${file} failed: ${result.stderr}`);
    times.push(Number(result.stdout));
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]! * 10) / 10;
}

export interface BundleRow {
  handler: PresenceHandler;
  bytes: number;
  clients: string[];
  tracerBytes: number;
  coldStartMs: number;
}

export async function bundlesScenario(runs = 5): Promise<{ functions: BundleRow[]; tracerAloneColdStartMs: number; tracerAloneBytes: number; node: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'presence-bench-bundles-'));
  try {
    const functions: BundleRow[] = [];
    const reports = await bundleFunctions(PRESENCE_HANDLERS, dir);
    for (const [handler, report] of reports) {
      const file = join(dir, handler, 'index.mjs');
      functions.push({
        handler,
        bytes: report.bytes,
        clients: report.packages.filter((name) => name.startsWith('@aws-sdk/client-')).map((name) => name.slice('@aws-sdk/client-'.length)),
        tracerBytes: TRACER_PACKAGES.reduce((sum, name) => sum + (report.bytesByPackage[name] ?? 0), 0),
        coldStartMs: moduleLoadMs(file, runs),
      });
    }
    // The Tracer on its own, bundled the same way: its share of every function's cold start.
    const tracerEntry = join(dir, 'tracer-entry.mjs');
    writeFileSync(tracerEntry, "import { Tracer } from '@aws-lambda-powertools/tracer';\nexport const tracer = new Tracer();\n");
    const tracerFile = join(dir, 'tracer', 'index.mjs');
    const tracer = await bundleEntry(tracerEntry, tracerFile);
    return { functions, tracerAloneColdStartMs: moduleLoadMs(tracerFile, runs), tracerAloneBytes: tracer.bytes, node: process.version };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function bundlesTable(result: Awaited<ReturnType<typeof bundlesScenario>>): string {
  const kb = (bytes: number) => `${Math.round(bytes / 1024)} KB`;
  return [
    `| function | bundle | SDK clients | Tracer + X-Ray SDK in it | cold start (module load, Node ${result.node}) |`,
    '| --- | --- | --- | --- | --- |',
    ...result.functions.map((row) => `| ${row.handler} | ${kb(row.bytes)} | ${row.clients.join(', ') || 'none'} | ${kb(row.tracerBytes)} | ${row.coldStartMs} ms |`),
    `| the Tracer alone | ${kb(result.tracerAloneBytes)} | | | ${result.tracerAloneColdStartMs} ms |`,
  ].join('\n');
}
