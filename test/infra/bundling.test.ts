/**
 * The one test that bundles for real, with the local esbuild (never Docker): every function's asset
 * is an ESM bundle with a source map that loads under Node and exports that function's handler,
 * and each bundle holds exactly the AWS SDK clients its function calls.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
import { type BundleReport, bundleFunctions } from '../../infra/bundles.ts';
import { PRESENCE_HANDLERS, type PresenceHandler } from '../../infra/presence-function.ts';
import { buildPresenceApp } from '../../infra/presence-app.ts';
import { functionsByHandler, newApp, removeOutdirs } from './cdk-app.ts';

afterAll(removeOutdirs);

describe('bundling', () => {
  it('bundles every function into a loadable ESM module with a source map', async () => {
    const app = newApp({}, { bundle: true });
    const { stateless } = buildPresenceApp(app);
    const assembly = app.synth();
    const functions = functionsByHandler(Template.fromStack(stateless));
    expect(functions.size).toBe(14);

    for (const [handler, { properties }] of functions) {
      const key = (properties.Code as { S3Key: string }).S3Key;
      const dir = join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
      expect(readdirSync(dir).sort(), handler).toEqual(['index.mjs', 'index.mjs.map']);
      // Loading runs the module top level (composition, metrics) exactly as a cold start does.
      const module = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as Record<string, unknown>;
      expect(typeof module[handler], handler).toBe('function');
    }
    expect(existsSync(join(assembly.directory, 'Presence-dev-Stateless.template.json'))).toBe(true);
    // NodejsFunction runs one esbuild process per function, one after another: 14 of them take 25-35 s
    // alone on a 2-core machine, and longer beside the other test files.
  }, 180_000);

  // Every function in one esbuild build (the bundles are those of separate builds; shared modules are parsed once).
  let reports = new Map<PresenceHandler, BundleReport>();
  const bundleDir = mkdtempSync(join(tmpdir(), 'presence-bundle-'));
  beforeAll(async () => {
    reports = await bundleFunctions([...PRESENCE_HANDLERS], bundleDir);
  }, 120_000);
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  const DYNAMODB = '@aws-sdk/client-dynamodb';
  const CONNECTIONS = '@aws-sdk/client-apigatewaymanagementapi';
  it.each<[PresenceHandler, string[]]>([
    // Verifies tokens and nothing else: no table, no posts.
    ['authorizer', []],
    ['connect', [DYNAMODB]],
    ['disconnect', [DYNAMODB]],
    ['onlineAgents', [DYNAMODB]],
    ['http', [DYNAMODB]],
    ['sweeper', [DYNAMODB]],
    ['heartbeat', [CONNECTIONS, DYNAMODB]],
    ['setStatus', [CONNECTIONS, DYNAMODB]],
    ['subscribe', [CONNECTIONS, DYNAMODB]],
    ['getPresence', [CONNECTIONS, DYNAMODB]],
    ['logout', [CONNECTIONS, DYNAMODB]],
    ['defaultRoute', [CONNECTIONS, DYNAMODB]],
    // Only the delivery consumer publishes events and invokes the fan-out function.
    ['stream', [CONNECTIONS, DYNAMODB, '@aws-sdk/client-eventbridge', '@aws-sdk/client-lambda']],
    ['fanout', [CONNECTIONS]],
  ])('the %s bundle holds only the SDK clients it calls', (handler, clients) => {
    const report = reports.get(handler);
    expect(report, handler).toBeDefined();
    expect(report!.packages.filter((name) => name.startsWith('@aws-sdk/client-'))).toEqual(clients);
  });
});
