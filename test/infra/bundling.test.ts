/**
 * The one test that bundles for real, with the local esbuild (never Docker): every function's asset
 * is an ESM bundle with a source map that loads under Node and exports that function's handler.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Template } from 'aws-cdk-lib/assertions';
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
  });
});
