/**
 * npm run test:model -- [--runs 10000] [--dynamodb-runs N] [--lanes 8] [--store memory|dynamodb]
 *                       [--max-commands 40] [--seed S --path P] [--strict 1|name,…] [--stats]
 * Runs the model-based property tests (test/integration/model.test.ts) with more sequences, or
 * replays a failure with the seed and path it printed. Options map to MODEL_* env vars.
 */
import { spawnSync } from 'node:child_process';

const options: Record<string, string> = {
  runs: 'MODEL_RUNS',
  'dynamodb-runs': 'MODEL_DYNAMODB_RUNS',
  lanes: 'MODEL_LANES',
  store: 'MODEL_STORE',
  'max-commands': 'MODEL_MAX_COMMANDS',
  seed: 'MODEL_SEED',
  path: 'MODEL_PATH',
  strict: 'MODEL_STRICT',
};
const env: Record<string, string | undefined> = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  const [flag, inline] = arg.replace(/^--/, '').split('=', 2) as [string, string | undefined];
  if (flag === 'stats') {
    env.MODEL_STATS = '1';
    continue;
  }
  const name = options[flag];
  if (!arg.startsWith('--') || !name) {
    console.error(`unknown option ${arg}; known: ${Object.keys(options).map((o) => `--${o}`).join(' ')} --stats`);
    process.exit(2);
  }
  const value = inline ?? args[++i];
  if (value === undefined) {
    console.error(`${arg} needs a value`);
    process.exit(2);
  }
  env[name] = value;
}
// --runs sets both properties (the DynamoDB one takes about 0.2 s a sequence on 2 cores).
if (env.MODEL_RUNS && !env.MODEL_DYNAMODB_RUNS) env.MODEL_DYNAMODB_RUNS = env.MODEL_RUNS;
// A replay runs only the property that failed (MODEL_STORE, printed with the seed).
const result = spawnSync(
  'npx',
  ['vitest', 'run', '--project', 'model', ...(env.MODEL_SEED ? ['-t', 'random sequences'] : [])],
  { stdio: 'inherit', env },
);
process.exit(result.status ?? 1);
