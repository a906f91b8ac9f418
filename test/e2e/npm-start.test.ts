/**
 * `npm start` and `npm run token` as processes, the way a developer runs them: the ready line,
 * the development-secret warning, a token that works, shutdown on SIGTERM and SIGINT without
 * orphans, data kept across restarts, and one clear sentence for what the developer must fix.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '#local/dynamodb-local.ts';
import { Client } from '#test/support/stack.ts';

const root = join(import.meta.dirname, '..', '..');
const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
/** The programs package.json's scripts name, as npm finds them. */
const PROGRAMS: Record<string, string> = { node: process.execPath, tsx: join(root, 'node_modules', '.bin', 'tsx') };
const dataDir = mkdtempSync(join(tmpdir(), 'presence-data-'));
/** Every process a test started: a failed test must not leave a stack running. */
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

/** Runs package.json's `script` (start or token) as npm does, without npm's own start-up time. */
function run(script: 'start' | 'token', args: string[], env: Record<string, string>): Started {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  // The stack must not pick up settings of whoever runs the tests.
  for (const name of ['PRESENCE_JWT_SECRET', 'PRESENCE_JWKS_URL', 'PRESENCE_DYNAMODB_ENDPOINT', 'PRESENCE_TABLE_NAME']) {
    if (!(name in env)) delete childEnv[name];
  }
  const [program = '', ...words] = (scripts[script] ?? '').split(' ');
  const child = spawn(PROGRAMS[program] ?? program, [...words, ...args], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const started: Started = { child, stdout: [], stderr: [], exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  const collect = (into: string[]) => (chunk: Buffer) => into.push(...String(chunk).split('\n').filter((line) => line !== ''));
  child.stdout?.on('data', collect(started.stdout));
  child.stderr?.on('data', collect(started.stderr));
  return started;
}

/** Resolves with the `ready` line, or rejects with what the process said when it exits first. */
function ready(started: Started): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const line = started.stdout.find((text) => text.startsWith('ready'));
      if (line) {
        started.child.stdout?.off('data', check);
        resolve(line);
      }
    };
    started.child.stdout?.on('data', check);
    void started.exited.then((code) => reject(new Error(`exited with ${code}: ${started.stderr.join('\n')}`)));
  });
}

/** Every process below `pid` (the JVM and its watchdog included). */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    // pgrep exits 1 when there are none
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/** Running, not merely a zombie waiting for init to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function ports() {
  return { PRESENCE_HTTP_PORT: String(await freePort()), PRESENCE_WS_PORT: String(await freePort()), PRESENCE_MANAGEMENT_PORT: String(await freePort()) };
}

async function mint(args: string[]): Promise<string> {
  const token = run('token', args, {});
  expect(await token.exited).toBe(0);
  return token.stdout.join('').trim();
}

describe('npm start', () => {
  // Two cold starts of the stack and its DynamoDB Local (a JVM each) on a shared 2-core machine: 60 s.
  it('serves, warns about the development secret, keeps data across a restart and stops cleanly', async () => {
    const env = { ...(await ports()), PRESENCE_DATA_DIR: dataDir };
    const first = run('start', [], env);
    const line = await ready(first);
    expect(line).toContain(`http://127.0.0.1:${env.PRESENCE_HTTP_PORT}/`);
    expect(line).toContain(`ws://127.0.0.1:${env.PRESENCE_WS_PORT}/`);
    expect(first.stdout.join('\n')).toMatch(/warning: PRESENCE_JWT_SECRET is not set/);
    expect(first.stdout.join('\n')).toMatch(/npm run token -- --workspace/);

    const health = await fetch(`http://127.0.0.1:${env.PRESENCE_HTTP_PORT}/healthz`);
    expect(await health.json()).toEqual({ ok: true });

    // A token from `npm run token` opens a connection; the choice is stored.
    const token = await mint(['--workspace', 'acme', '--user', 'alice', '--name', 'Alice', '--teams', 'sales,support']);
    const wsUrl = `ws://127.0.0.1:${env.PRESENCE_WS_PORT}/`;
    const alice = await Client.open(wsUrl, token);
    alice.send({ action: 'setStatus', status: 'away' });
    expect(await alice.next('presence', (m) => m.reason === 'manual')).toMatchObject({ name: 'Alice', teams: ['sales', 'support'] });

    const tree = descendants(first.child.pid ?? 0);
    expect(tree.length).toBeGreaterThan(0);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect((await alice.closed).code).toBe(1001);
    expect(tree.filter(alive)).toEqual([]);

    const second = run('start', [], env);
    await ready(second);
    const again = await Client.open(wsUrl, token);
    const snapshot = await again.snapshot();
    expect(snapshot.users.find((user) => user.userId === 'alice')?.status).toBe('away');
    const secondTree = descendants(second.child.pid ?? 0);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(secondTree.filter(alive)).toEqual([]);
  }, 60_000);

  // Two cold starts, as above: 60 s.
  it('killed outright (SIGKILL), it leaves no process behind and loses no acknowledged change', async () => {
    const env = { ...(await ports()), PRESENCE_DATA_DIR: join(dataDir, 'killed') };
    const first = run('start', [], env);
    await ready(first);
    const token = await mint(['--workspace', 'acme', '--user', 'bob']);
    const wsUrl = `ws://127.0.0.1:${env.PRESENCE_WS_PORT}/`;
    const bob = await Client.open(wsUrl, token);
    bob.send({ action: 'setStatus', status: 'away' });
    await bob.next('presence', (m) => m.reason === 'manual');

    const tree = descendants(first.child.pid ?? 0);
    first.child.kill('SIGKILL');
    await first.exited;
    await bob.closed;
    // DynamoDB Local's watchdog sees our pipe close and takes the JVM down with it.
    const deadline = Date.now() + 15_000;
    while (tree.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(tree.filter(alive)).toEqual([]);

    const second = run('start', [], env);
    await ready(second);
    const again = await Client.open(wsUrl, token);
    expect((await again.snapshot()).users.find((user) => user.userId === 'bob')?.status).toBe('away');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 60_000);

  it('says in one sentence when a port is taken, and leaves nothing running', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const started = run('start', [], { ...(await ports()), PRESENCE_HTTP_PORT: String(taken), PRESENCE_DATA_DIR: ':memory:' });
      expect(await started.exited).toBe(1);
      expect(started.stderr).toEqual([
        `presence: port ${taken} (HTTP API) is in use: stop what uses it or set PRESENCE_HTTP_PORT to a free port`,
      ]);
    } finally {
      blocker.close();
    }
  });

  it('says in one sentence when the data directory cannot be written', async () => {
    const file = join(dataDir, 'not-a-directory');
    writeFileSync(file, '');
    const started = run('start', [], { ...(await ports()), PRESENCE_DATA_DIR: join(file, 'data') });
    expect(await started.exited).toBe(1);
    expect(started.stderr).toHaveLength(1);
    expect(started.stderr[0]).toMatch(/^presence: cannot write to the data directory .*not-a-directory\/data \(ENOTDIR\)/);
  });

  it('says how to install Java when it is missing', async () => {
    // A PATH with node and nothing else: no java.
    const bin = mkdtempSync(join(dataDir, 'path-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const started = run('start', [], { ...(await ports()), PATH: bin, PRESENCE_DATA_DIR: ':memory:' });
    expect(await started.exited).toBe(1);
    expect(started.stderr.join('\n')).toMatch(/java.*openjdk-17-jre-headless/is);
  });

  it('refuses a bad setting before starting anything', async () => {
    const started = run('start', [], { ...(await ports()), PRESENCE_JWT_SECRET: 'short', PRESENCE_DATA_DIR: ':memory:' });
    expect(await started.exited).toBe(1);
    expect(started.stderr).toEqual(['presence: PRESENCE_JWT_SECRET must be at least 32 characters']);
  });
});

describe('npm run token', () => {
  it('mints a token with the claims PROTOCOL.md lists', async () => {
    const token = await mint(['--workspace', 'acme', '--user', 'bob', '--role', 'admin', '--expires-in', '600']);
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: 'bob', workspace: 'acme', role: 'admin' });
    expect(Number(claims.exp) - Number(claims.iat)).toBe(600);
  });

  it('explains a missing or invalid argument', async () => {
    const missing = run('token', ['--user', 'bob'], {});
    expect(await missing.exited).toBe(1);
    expect(missing.stderr[0]).toMatch(/^token: --workspace: /);
    expect(missing.stderr[1]).toMatch(/^usage: npm run token/);
    const badId = run('token', ['--workspace', 'a/b', '--user', 'bob'], {});
    expect(await badId.exited).toBe(1);
    expect(badId.stderr[0]).toMatch(/^token: --workspace: must be 1 to 128 characters/);
    const unknown = run('token', ['--workspace', 'a', '--user', 'bob', '--colour', 'red'], {});
    expect(await unknown.exited).toBe(1);
    expect(unknown.stderr[0]).toMatch(/^token: Unknown option '--colour'/);
  });
});
