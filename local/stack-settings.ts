/**
 * The local stack's settings: its ports, table, tokens and fan-out workers from the PRESENCE_*
 * variables (PROTOCOL.md) and the options that override them, checked before anything starts,
 * and the problems with them that the person starting the stack can fix.
 */
import { readNumber } from '#app/config.ts';
import type { TokenVerifier } from '#app/principal.ts';
import { jwtSettingsFromEnv, verifierFromEnv } from '#handlers/token-wiring.ts';
import { DEV_JWT_SECRET, type SigningSettings } from '#local/tokens.ts';

export type Env = Record<string, string | undefined>;

/** A problem the person starting the stack can fix; main.ts prints the message alone. */
export class LocalStackError extends Error {
  override readonly name = 'LocalStackError';
}

/**
 * Sockets of the stack's DynamoDB and `@connections` pools (the SDK's default is 50): beyond 50
 * requests in flight in a storm, requests waited for a socket past the SDK's 2 s connect timeout.
 */
export const LOCAL_MAX_SOCKETS = 256;

/**
 * How long a post to the emulator's `@connections` may take unless PRESENCE_POST_TIMEOUT_MS says
 * otherwise (Lambda: 3 s). The emulator answers on the one event loop every handler shares, so
 * in a connect storm its answers queue for seconds (docs/decisions/0012).
 */
export const LOCAL_POST_TIMEOUT_MS = 10_000;

/** The variables with the local stack's own defaults where they differ from Lambda's. */
export function withLocalDefaults(env: Env): Env {
  return { ...env, PRESENCE_POST_TIMEOUT_MS: env.PRESENCE_POST_TIMEOUT_MS ?? String(LOCAL_POST_TIMEOUT_MS) };
}

export interface StackSettings {
  httpPort: number;
  wsPort: number;
  managementPort: number;
  tableName: string;
  /** True when tokens are signed with the fixed development secret. */
  devSecretInUse: boolean;
  /** True when the page's demo sign-in (POST /dev/token) mints tokens. */
  devSignIn: boolean;
  /** The environment with the development secret in it when that is in use: what verifies tokens. */
  jwtEnv: Env;
  verifier: TokenVerifier;
  signing: SigningSettings;
  /** Worker threads posting the chunks of large fan-outs. */
  workerCount: number;
}

/** The options that override the variables; a port of 0 picks a free port (tests). */
interface SettingOptions {
  httpPort?: number;
  wsPort?: number;
  /** Without it, 0 when wsPort is 0, else PRESENCE_MANAGEMENT_PORT. */
  managementPort?: number;
  fanoutWorkers?: number;
}

/** Fails on bad settings before anything starts. */
export function readStackSettings(env: Env, options: SettingOptions): StackSettings {
  const httpPort = options.httpPort ?? port(env, 'PRESENCE_HTTP_PORT', 3000);
  const wsPort = options.wsPort ?? port(env, 'PRESENCE_WS_PORT', 3001);
  const managementPort = options.managementPort ?? (options.wsPort === 0 ? 0 : port(env, 'PRESENCE_MANAGEMENT_PORT', 3002));
  const tableName = env.PRESENCE_TABLE_NAME || 'presence';
  const devSecretInUse = !env.PRESENCE_JWT_SECRET && !env.PRESENCE_JWKS_URL;
  // Minting tokens on request is safe only with the public development secret, which nothing
  // else trusts; with a real secret it takes an explicit PRESENCE_DEV_SIGN_IN=1 (main.ts warns).
  const devSignIn = devSecretInUse || (env.PRESENCE_DEV_SIGN_IN === '1' && !env.PRESENCE_JWKS_URL);
  const jwtEnv: Env = devSecretInUse ? { ...env, PRESENCE_JWT_SECRET: DEV_JWT_SECRET } : env;
  const jwt = jwtSettingsFromEnv(jwtEnv);
  const verifier = verifierFromEnv(jwtEnv);
  const signing: SigningSettings = {
    secret: jwt.mode === 'secret' ? jwt.secret : '',
    issuer: jwt.issuer,
    audience: jwt.audience,
  };
  const workerCount = fanoutWorkerCount(env, options.fanoutWorkers);
  return { httpPort, wsPort, managementPort, tableName, devSecretInUse, devSignIn, jwtEnv, verifier, signing, workerCount };
}

/** Worker threads posting the chunks of large fan-outs: the option, else PRESENCE_LOCAL_FANOUT_WORKERS (default 2). */
export function fanoutWorkerCount(env: Env, option: number | undefined): number {
  const workerCount = option ?? readNumber(env, 'PRESENCE_LOCAL_FANOUT_WORKERS', 2, 0);
  if (!Number.isInteger(workerCount)) throw new LocalStackError(`PRESENCE_LOCAL_FANOUT_WORKERS must be a whole number, got "${env.PRESENCE_LOCAL_FANOUT_WORKERS}"`);
  return workerCount;
}

/** Why a server could not listen: a port in use names the variable that moves it; anything else is rethrown. */
export function portInUse(error: unknown, what: string, variable: string, value: number): never {
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    throw new LocalStackError(`port ${value} (${what}) is in use: stop what uses it or set ${variable} to a free port`);
  }
  throw error;
}

function port(env: Env, name: string, fallback: number): number {
  const value = readNumber(env, name, fallback, 0);
  if (!Number.isInteger(value) || value > 65_535) throw new LocalStackError(`${name} must be a port number, got "${env[name]}"`);
  return value;
}
