/**
 * Model-based property tests: random sequences of connect, close, drop, heartbeat, setStatus,
 * logout, settings changes, sweeps and clock jumps over three users in each of two workspaces,
 * run against the real handlers and use cases and compared after every command with the reference
 * model in test/model/reference-model.ts (statuses, since, the online/away query, every
 * notification per connection, every PresenceChanged event).
 *
 * Environment (npm run test:model -- --runs 10000 sets these):
 *   MODEL_RUNS=1000            sequences on the in-memory store
 *   MODEL_DYNAMODB_RUNS=25     sequences on the real DynamoDbPresenceStore on DynamoDB Local
 *   MODEL_MAX_COMMANDS=40      commands per sequence at most
 *   MODEL_SEED=… MODEL_PATH=…  replay a failure (both are printed when a run fails)
 *   MODEL_STORE=memory|dynamodb  run only one of the two properties
 *   MODEL_STRICT=1             the model without the implementation's deviations (shows findings)
 */
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import fc from 'fast-check';
import { DynamoDbPresenceStore } from '#adapters/dynamodb-store.ts';
import { makeDocumentClient } from '#handlers/composition.ts';
import { ManualClock, TEST_CONFIG, uniqueWorkspace } from '#test/support/harness.ts';
import { MemoryPresenceStore } from '#test/support/memory-store.ts';
import { createTable } from '#test/support/table.ts';
import { IMPLEMENTATION } from '#test/model/reference-model.ts';
import { type Command, commandArb, type RunOptions, runSequence, type StoreFactory, stats } from '#test/model/run-model.ts';

const env = process.env;
const int = (name: string, fallback: number) => (env[name] ? Number.parseInt(env[name]!, 10) : fallback);
const RUNS = int('MODEL_RUNS', 1000);
const DYNAMODB_RUNS = int('MODEL_DYNAMODB_RUNS', 25);
const MAX_COMMANDS = int('MODEL_MAX_COMMANDS', 40);
/** MODEL_STRICT=1: all of them; or a comma list of the names below. */
const STRICT_MODE = env.MODEL_STRICT ?? '';
const strict = (name: string) => STRICT_MODE === '1' || STRICT_MODE.split(',').includes(name);
const ONLY = env.MODEL_STORE;
const OPTIONS: RunOptions = {
  deviations: {
    halfLeaseRenewal: IMPLEMENTATION.halfLeaseRenewal && !strict('halfLeaseRenewal'),
    retroactiveIdleAt: IMPLEMENTATION.retroactiveIdleAt && !strict('retroactiveIdleAt'),
  },
  avoid: {
    logoutWithGivenUpConnection: !strict('logoutWithGivenUpConnection'),
    settingsRejudgingDeadlines: !strict('settingsRejudgingDeadlines'),
  },
};

const memoryStores: StoreFactory = {
  async forSequence() {
    return { store: new MemoryPresenceStore(), clock: new ManualClock() };
  },
};

/** One table for the whole property: sequences use fresh workspace ids and a clock that only moves on. */
async function dynamoDbStores(): Promise<StoreFactory> {
  const tableName = `model-${uniqueWorkspace('t')}`.slice(0, 200);
  await createTable(inject('dynamoEndpoint'), tableName);
  const store = new DynamoDbPresenceStore({
    client: makeDocumentClient({ PRESENCE_DYNAMODB_ENDPOINT: inject('dynamoEndpoint') }),
    tableName,
    agentRetentionMs: TEST_CONFIG.agentRetentionMs,
    deadlineShards: 2,
  });
  const clock = new ManualClock();
  return {
    async forSequence() {
      // A day later: what earlier sequences left behind is long past its deadlines; a sweep
      // settles it, posting only to their connections and publishing only their workspaces.
      clock.advance(86_400_000);
      return { store, clock };
    },
  };
}

async function checkProperty(factory: StoreFactory, numRuns: number): Promise<void> {
  const seed = env.MODEL_SEED ? Number.parseInt(env.MODEL_SEED, 10) : undefined;
  const path = env.MODEL_PATH;
  const property = fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: MAX_COMMANDS, size: 'max' }), async (commands: Command[]) => {
    await runSequence(factory, commands, OPTIONS);
  });
  const details = await fc.check(property, {
    numRuns: path ? 1 : numRuns,
    ...(seed !== undefined ? { seed } : {}),
    ...(path ? { path, endOnFailure: true } : {}),
  });
  if (env.MODEL_STATS === '1') console.log(JSON.stringify(stats));
  if (details.failed) {
    const replay = `MODEL_SEED=${details.seed} MODEL_PATH=${details.counterexamplePath}${STRICT_MODE ? ` MODEL_STRICT=${STRICT_MODE}` : ''}`;
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(
      `model property failed after ${details.numRuns} runs (${details.numShrinks} shrinks)\n` +
        `replay: ${replay} npm run test:model\n` +
        `counterexample: ${JSON.stringify(details.counterexample?.[0])}\n${error}`,
    );
  }
}

describe('the service against the reference model', () => {
  it.skipIf(ONLY === 'dynamodb')(`${RUNS} random sequences on the in-memory store`, { timeout: 3_600_000 }, async () => {
    await checkProperty(memoryStores, RUNS);
  });

  it.skipIf(ONLY === 'memory')(`${DYNAMODB_RUNS} random sequences on DynamoDB Local`, { timeout: 3_600_000 }, async () => {
    await checkProperty(await dynamoDbStores(), DYNAMODB_RUNS);
  });
});

describe('the model itself', () => {
  it('replays a hand-written sequence: reload within grace is silent, lease end is a timeout', async () => {
    const commands: Command[] = [
      { k: 'connect', ws: 0, user: 0 },
      { k: 'connect', ws: 0, user: 1 },
      { k: 'close', conn: 0 },
      { k: 'advance', ms: 4_999 },
      { k: 'connect', ws: 0, user: 0 },
      { k: 'advance', ms: 30_000 },
      { k: 'sweep' },
      { k: 'setStatus', conn: 0, status: 'busy' },
    ];
    await expect(runSequence(memoryStores, commands, OPTIONS)).resolves.toBeUndefined();
  });
});
