/** `npm run token -- --workspace acme --user alice [--name Alice] [--teams a,b] [--role admin] [--expires-in 3600]` */
import { parseArgs } from 'node:util';
import { jwtSettingsFromEnv } from '#handlers/token-wiring.ts';
import { DEV_JWT_SECRET, mintToken, tokenRequestSchema } from '#local/tokens.ts';

const USAGE =
  'usage: npm run token -- --workspace <id> --user <id> [--name <name>] [--teams a,b] [--role agent|admin|service] [--expires-in <seconds>]';

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n${USAGE}\n`);
  process.exit(1);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      workspace: { type: 'string' },
      user: { type: 'string' },
      name: { type: 'string' },
      teams: { type: 'string' },
      role: { type: 'string' },
      'expires-in': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const parsed = tokenRequestSchema.safeParse({
  workspace: values.workspace,
  user: values.user,
  ...(values.name !== undefined ? { name: values.name } : {}),
  ...(values.teams !== undefined ? { teams: values.teams.split(',').filter((team) => team !== '') } : {}),
  ...(values.role !== undefined ? { role: values.role } : {}),
  ...(values['expires-in'] !== undefined ? { expiresIn: Number(values['expires-in']) } : {}),
});
if (!parsed.success) {
  fail(parsed.error.issues.map((issue) => `--${String(issue.path[0] ?? 'input')}: ${issue.message}`).join('; '));
}
if (process.env.PRESENCE_JWKS_URL) fail('the stack verifies tokens from PRESENCE_JWKS_URL; mint them with your identity provider');
const env = { ...process.env, PRESENCE_JWT_SECRET: process.env.PRESENCE_JWT_SECRET || DEV_JWT_SECRET };
let settings;
try {
  settings = jwtSettingsFromEnv(env);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (settings.mode !== 'secret') fail('no HS256 secret to sign with');
process.stdout.write(`${await mintToken(parsed.data, settings)}\n`);
