import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * Files of unit, infra and integration that replace a module (vi.mock) or set process.env
 * themselves: they run in the isolated project, since in a worker that other files share a mock
 * could leak into them or miss a module they loaded first, and a variable would outlive the file
 * (vi.stubEnv, undone after each test, is fine). Found by reading the files, so a new one cannot
 * be forgotten.
 */
const SHARED_DIRS = ['test/unit', 'test/infra', 'test/integration'];
const NEEDS_ISOLATION = /\bvi\.(do)?[mM]ock\(|process\.env(\.\w+|\[[^\]]+\])?\s*=[^=]|Object\.assign\(process\.env/;
const ISOLATED = SHARED_DIRS.flatMap((dir) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.test.ts'))
    .map((name) => join(dir, name))
    .filter((file) => NEEDS_ISOLATION.test(readFileSync(file, 'utf8'))),
);

export default defineConfig({
  test: {
    // CDK bundling (later) fails under worker threads; forks also isolate DynamoDB clients.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      // unit, infra and integration files share their worker's modules (isolate: false): the SDK,
      // aws-cdk-lib and the service load once per worker, not once per file (imports summed 76 s -> 31 s).
      // A file there undoes what it changes (spies, timers, stubbed globals) in afterEach.
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], exclude: ISOLATED, isolate: false },
      },
      {
        extends: true,
        test: { name: 'infra', include: ['test/infra/**/*.test.ts'], exclude: ISOLATED, isolate: false, testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: ['test/integration/model.test.ts', ...ISOLATED],
          isolate: false,
          globalSetup: ['test/support/dynamodb-global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // The files above that mock modules or set the environment, each in a fresh process (with
          // DynamoDB Local, should one need it).
          name: 'isolated',
          include: ISOLATED,
          globalSetup: ISOLATED.some((file) => file.startsWith('test/integration/')) ? ['test/support/dynamodb-global-setup.ts'] : [],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // The local stack in-process with real WebSocket clients, and a real browser. Isolated:
          // test/support/stack.ts registers its per-test cleanup when a file imports it.
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'test/browser/**/*.test.ts'],
          globalSetup: ['test/support/dynamodb-global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // The model-based property tests on the real handlers and DynamoDB Local. They run on
          // their own (see package.json "test"): 8 lanes keep both cores busy, which would slow
          // the e2e tests that run on real timers.
          name: 'model',
          include: ['test/integration/model.test.ts'],
          globalSetup: ['test/support/dynamodb-global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // Runs on its own after the others (see package.json "test"): it uses the whole machine,
          // so its files (the load run, the connect storm) run one after the other too.
          name: 'load',
          include: ['test/load/**/*.test.ts'],
          fileParallelism: false,
          globalSetup: ['test/support/dynamodb-global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
