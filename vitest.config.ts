import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // CDK bundling (later) fails under worker threads; forks also isolate DynamoDB clients.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: ['test/integration/model.test.ts'],
          globalSetup: ['test/support/dynamodb-global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // The local stack in-process with real WebSocket clients, and a real browser.
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
