/** `npm start`: the local stack in the foreground until SIGINT or SIGTERM. */
import { ConfigurationError } from '#app/errors.ts';
import { DynamoDbLocalStartError, JavaMissingError } from '#local/dynamodb-local.ts';
import { LocalStackError } from '#local/stack-settings.ts';
import { startLocalStack } from '#local/stack.ts';

// The pinned SDK runs on Node 20; its notice about future releases is noise in a terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const KNOWN_ERRORS = [LocalStackError, JavaMissingError, DynamoDbLocalStartError, ConfigurationError];

function fail(error: unknown): never {
  const known = KNOWN_ERRORS.some((type) => error instanceof type);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`presence: ${known ? message : `could not start: ${message}`}\n`);
  process.exit(1);
}

const startedAt = performance.now();
const stack = await startLocalStack().catch(fail);
const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);

// One write, so whoever waits for the ready line has the warning and the hint with it.
const lines = [
  `ready in ${seconds} s: page and HTTP API ${stack.httpUrl}/  WebSocket ${stack.wsUrl}  @connections ${stack.managementUrl}/@connections/{id}`,
  ...(stack.devSecretInUse
    ? ['warning: PRESENCE_JWT_SECRET is not set, so tokens are signed with the public development secret; never expose this stack beyond your machine']
    : []),
  ...(stack.devSignIn && !stack.devSecretInUse
    ? ['warning: PRESENCE_DEV_SIGN_IN=1: POST /dev/token signs any token, for any workspace and role, with your PRESENCE_JWT_SECRET; anyone who can reach this machine on that port can mint them']
    : []),
  'mint a token: npm run token -- --workspace acme --user alice --name Alice [--teams sales,support] [--role admin]',
];
process.stdout.write(`${lines.join('\n')}\n`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      process.stderr.write('presence: stopping again: exiting at once\n');
      process.exit(130);
    }
    stopping = true;
    process.stdout.write(`stopping (${signal}): closing connections and DynamoDB Local\n`);
    stack.stop().then(
      () => {
        process.stdout.write('stopped\n');
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`presence: could not stop cleanly: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  });
}
