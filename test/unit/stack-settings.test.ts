/**
 * The local stack's settings (local/stack-settings.ts): ports from the variables or the options,
 * the development secret and sign-in, bad values refused with the variable named, the fan-out
 * worker count, a port in use told apart from other listen errors, and the local defaults that
 * differ from Lambda's.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '#app/errors.ts';
import { postTimeoutMsFromEnv } from '#handlers/connections-wiring.ts';
import { fanoutWorkerCount, LOCAL_POST_TIMEOUT_MS, LocalStackError, portInUse, readStackSettings, withLocalDefaults } from '#local/stack-settings.ts';
import { DEV_JWT_SECRET, mintToken } from '#local/tokens.ts';

const SECRET = 'a-secret-of-at-least-thirty-two-characters';

describe('readStackSettings', () => {
  it('defaults: ports 3000, 3001 and 3002, table presence, the development secret with its sign-in', async () => {
    const settings = readStackSettings({}, {});

    expect(settings).toMatchObject({
      httpPort: 3000,
      wsPort: 3001,
      managementPort: 3002,
      tableName: 'presence',
      devSecretInUse: true,
      devSignIn: true,
      signing: { secret: DEV_JWT_SECRET, issuer: undefined, audience: undefined },
    });
    expect(settings.jwtEnv.PRESENCE_JWT_SECRET).toBe(DEV_JWT_SECRET);
    const token = await mintToken({ workspace: 'acme', user: 'alice' }, settings.signing);
    await expect(settings.verifier.verify(token)).resolves.toMatchObject({ workspaceId: 'acme', userId: 'alice' });
  });

  it('reads the variables, and the options override them; wsPort 0 puts @connections on a free port too', () => {
    const env = { PRESENCE_HTTP_PORT: '4000', PRESENCE_WS_PORT: '4001', PRESENCE_MANAGEMENT_PORT: '4002', PRESENCE_TABLE_NAME: 'mine' };

    expect(readStackSettings(env, {})).toMatchObject({ httpPort: 4000, wsPort: 4001, managementPort: 4002, tableName: 'mine' });
    expect(readStackSettings(env, { httpPort: 0, wsPort: 0 })).toMatchObject({ httpPort: 0, wsPort: 0, managementPort: 0 });
    expect(readStackSettings(env, { wsPort: 0, managementPort: 5002 })).toMatchObject({ managementPort: 5002 });
  });

  it('with a real secret signs and verifies with it, and mints tokens on request only with PRESENCE_DEV_SIGN_IN=1', async () => {
    const env = { PRESENCE_JWT_SECRET: SECRET, PRESENCE_JWT_ISSUER: 'issuer', PRESENCE_JWT_AUDIENCE: 'audience' };

    const settings = readStackSettings(env, {});
    expect(settings).toMatchObject({ devSecretInUse: false, devSignIn: false, signing: { secret: SECRET, issuer: 'issuer', audience: 'audience' } });
    expect(settings.jwtEnv).toBe(env);
    const token = await mintToken({ workspace: 'acme', user: 'alice' }, settings.signing);
    await expect(settings.verifier.verify(token)).resolves.toMatchObject({ userId: 'alice' });
    expect(readStackSettings({ ...env, PRESENCE_DEV_SIGN_IN: '1' }, {}).devSignIn).toBe(true);
  });

  it('never mints tokens with a JWKS URL, and has no secret to sign with', () => {
    const settings = readStackSettings({ PRESENCE_JWKS_URL: 'https://issuer.example/jwks.json', PRESENCE_DEV_SIGN_IN: '1' }, {});

    expect(settings).toMatchObject({ devSecretInUse: false, devSignIn: false, signing: { secret: '' } });
  });

  it('refuses a port that is not one, naming the variable', () => {
    expect(() => readStackSettings({ PRESENCE_HTTP_PORT: '70000' }, {})).toThrow(
      new LocalStackError('PRESENCE_HTTP_PORT must be a port number, got "70000"'),
    );
    expect(() => readStackSettings({ PRESENCE_WS_PORT: '3001.5' }, {})).toThrow(LocalStackError);
    expect(() => readStackSettings({ PRESENCE_MANAGEMENT_PORT: '-1' }, {})).toThrow(ConfigurationError);
    // Overridden ports are not read.
    expect(readStackSettings({ PRESENCE_HTTP_PORT: 'x', PRESENCE_WS_PORT: 'x' }, { httpPort: 0, wsPort: 0 }).managementPort).toBe(0);
  });

  it('refuses a short secret before anything starts', () => {
    expect(() => readStackSettings({ PRESENCE_JWT_SECRET: 'short' }, {})).toThrow(ConfigurationError);
  });
});

describe('fanoutWorkerCount', () => {
  it('is the option, else PRESENCE_LOCAL_FANOUT_WORKERS, else 2', () => {
    expect(fanoutWorkerCount({}, undefined)).toBe(2);
    expect(fanoutWorkerCount({ PRESENCE_LOCAL_FANOUT_WORKERS: '0' }, undefined)).toBe(0);
    expect(fanoutWorkerCount({ PRESENCE_LOCAL_FANOUT_WORKERS: '4' }, 1)).toBe(1);
  });

  it('refuses a count that is not a whole number', () => {
    expect(() => fanoutWorkerCount({ PRESENCE_LOCAL_FANOUT_WORKERS: '1.5' }, undefined)).toThrow(
      new LocalStackError('PRESENCE_LOCAL_FANOUT_WORKERS must be a whole number, got "1.5"'),
    );
    expect(() => fanoutWorkerCount({ PRESENCE_LOCAL_FANOUT_WORKERS: '-1' }, undefined)).toThrow(ConfigurationError);
  });

  it('is read with the other settings, so a bad count is refused before anything starts', () => {
    expect(readStackSettings({ PRESENCE_LOCAL_FANOUT_WORKERS: '3' }, {}).workerCount).toBe(3);
    expect(readStackSettings({ PRESENCE_LOCAL_FANOUT_WORKERS: '3' }, { fanoutWorkers: 0 }).workerCount).toBe(0);
    expect(() => readStackSettings({ PRESENCE_LOCAL_FANOUT_WORKERS: 'two' }, {})).toThrow(ConfigurationError);
  });
});

describe('portInUse', () => {
  it('names the variable that moves a port in use, and rethrows anything else as it is', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    const other = Object.assign(new Error('listen EACCES'), { code: 'EACCES' });

    expect(() => portInUse(inUse, 'HTTP API', 'PRESENCE_HTTP_PORT', 3000)).toThrow(
      new LocalStackError('port 3000 (HTTP API) is in use: stop what uses it or set PRESENCE_HTTP_PORT to a free port'),
    );
    expect(() => portInUse(other, 'HTTP API', 'PRESENCE_HTTP_PORT', 3000)).toThrow(other);
  });
});

describe('withLocalDefaults', () => {
  it('gives posts to the emulator 10 s unless PRESENCE_POST_TIMEOUT_MS is set, and keeps every other variable', () => {
    const env = { PRESENCE_TABLE_NAME: 'mine' };

    expect(postTimeoutMsFromEnv(withLocalDefaults(env))).toBe(LOCAL_POST_TIMEOUT_MS);
    expect(LOCAL_POST_TIMEOUT_MS).toBeGreaterThan(postTimeoutMsFromEnv({}));
    expect(withLocalDefaults(env)).toEqual({ PRESENCE_TABLE_NAME: 'mine', PRESENCE_POST_TIMEOUT_MS: '10000' });
    expect(postTimeoutMsFromEnv(withLocalDefaults({ ...env, PRESENCE_POST_TIMEOUT_MS: '2500' }))).toBe(2500);
    expect(env).toEqual({ PRESENCE_TABLE_NAME: 'mine' });
  });
});
