/**
 * Scenarios on real sockets and real time: fan-out latency (clients in a child process),
 * detection lag (local stack with its sweeper timer), heartbeat throughput (handler level against
 * DynamoDB Local), and `npm start` to its `ready` line.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { makeConnectHandler, makeHeartbeatHandler } from '#handlers/websocket.ts';
import { startLocalStack } from '#local/stack.ts';
import { mintToken } from '#local/tokens.ts';
import { benchPorts, CapacityMeter, ManualClock, meteredClient, newTable, percentile, round, saturate, silentLogger, wsEvent } from './lib.ts';

const debugLogger = process.env.BENCH_DEBUG
  ? { info() {}, warn: (m: string, ...e: unknown[]) => console.error('warn', m, ...e), error: (m: string, ...e: unknown[]) => console.error('error', m, ...e) }
  : silentLogger;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET = `bench-secret-${randomUUID()}`;

function runChild(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/fanout-client.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, BENCH_JWT_SECRET: SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-2000);
      if (process.env.BENCH_DEBUG) process.stderr.write(chunk);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim().split('\n').pop() ?? '');
      else reject(new Error(`fan-out client exited with ${code}: ${err.trim()}`));
    });
  });
}

export interface FanoutRun {
  clients: number;
  changes: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  connectMs: number;
}

export async function fanoutScenario(
  dynamoEndpoint: string,
  sizes: number[],
  changes: number,
  options: { workers?: number; chunkSize?: number } = {},
): Promise<FanoutRun[]> {
  const stack = await startLocalStack({
    httpPort: 0,
    wsPort: 0,
    sweepTimer: false,
    logger: debugLogger,
    ...(options.workers !== undefined ? { fanoutWorkers: options.workers } : {}),
    env: {
      ...(options.chunkSize !== undefined ? { PRESENCE_FANOUT_CHUNK_SIZE: String(options.chunkSize) } : {}),
      PRESENCE_JWT_SECRET: SECRET,
      PRESENCE_DYNAMODB_ENDPOINT: dynamoEndpoint,
      PRESENCE_TABLE_NAME: `bench-fanout-${randomUUID().slice(0, 8)}`,
    },
  });
  const runs: FanoutRun[] = [];
  try {
    for (const clients of sizes) {
      const line = await runChild([stack.wsUrl, `fan-${clients}-${randomUUID().slice(0, 6)}`, String(clients), String(changes)], 600_000);
      const result = JSON.parse(line) as { perChange: number[]; connectMs: number };
      await stack.emulator.idle();
      const sorted = [...result.perChange].sort((a, b) => a - b);
      runs.push({
        clients,
        changes,
        p50Ms: round(percentile(sorted, 50), 1),
        p95Ms: round(percentile(sorted, 95), 1),
        p99Ms: round(percentile(sorted, 99), 1),
        maxMs: round(sorted[sorted.length - 1] ?? 0, 1),
        connectMs: Math.round(result.connectMs),
      });
    }
  } finally {
    await stack.stop();
  }
  return runs;
}

export interface HeartbeatRun {
  concurrency: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  writeShare: number;
  /** DynamoDB requests per heartbeat (reads of the agent and the settings, and the writes). */
  requestsPerBeat: number;
}

/**
 * Handler-level heartbeats against DynamoDB Local. The clock moves 30 s per agent per round, so
 * every agent beats at the default 30 s in simulated time and half the beats renew the lease,
 * as in production; real time measures the handler.
 */
export async function heartbeatScenario(dynamoEndpoint: string, concurrencies: number[], seconds: number): Promise<HeartbeatRun[]> {
  const meter = new CapacityMeter();
  const db = meteredClient(dynamoEndpoint, meter);
  const tableName = await newTable(db.client, 'beat');
  const clock = new ManualClock();
  const ports = benchPorts(db.doc, tableName, clock);
  const agents = 256;
  const connect = makeConnectHandler({ ports });
  const heartbeat = makeHeartbeatHandler({ ports });
  const connectedAt = clock.now();
  for (let i = 0; i < agents; i++) await connect(wsEvent('$connect', 'CONNECT', `c${i}`, connectedAt, 'ws-beat', `u${i}`));
  const step = 30_000 / agents;
  const runs: HeartbeatRun[] = [];
  let next = 0;
  for (const concurrency of concurrencies) {
    const latencies: number[] = [];
    let writes = 0;
    const requestsBefore = meter.requests;
    const { elapsed } = await saturate(concurrency, seconds, async () => {
      const i = next++ % agents;
      clock.advance(step);
      const before = meter.writeUnits;
      const t0 = performance.now();
      await heartbeat(wsEvent('heartbeat', 'MESSAGE', `c${i}`, connectedAt, 'ws-beat', `u${i}`, { action: 'heartbeat', active: true }));
      latencies.push(performance.now() - t0);
      if (meter.writeUnits > before) writes++;
    });
    latencies.sort((a, b) => a - b);
    runs.push({
      concurrency,
      perSecond: Math.round(latencies.length / elapsed),
      p50Ms: round(percentile(latencies, 50), 2),
      p99Ms: round(percentile(latencies, 99), 2),
      writeShare: round(writes / Math.max(1, latencies.length), 2),
      requestsPerBeat: round((meter.requests - requestsBefore) / Math.max(1, latencies.length), 2),
    });
  }
  db.client.destroy();
  return runs;
}

interface Received {
  userId: string;
  status: string;
  reason: string;
  at: number;
  receivedAt: number;
}

export interface DetectionResult {
  samples: number;
  timeoutLagMs: { p50: number; max: number };
  idleLagMs: { p50: number; max: number };
  leaseSeconds: number;
  idleTimeoutSeconds: number;
  sweepIntervalSeconds: number;
}

/**
 * The local stack with its sweeper timer at the default 5 s interval and short deadlines (12 s
 * lease, 15 s idle timeout). Clients die with no close frame and no `$disconnect`; others stop
 * being active. A teammate records when it sees `timeout` or `idle`; the lag is the time past the
 * deadline the message carries (`at` is the deadline itself).
 */
export async function detectionScenario(dynamoEndpoint: string, samples: number): Promise<DetectionResult> {
  const lease = 12;
  const idle = 15;
  const stack = await startLocalStack({
    httpPort: 0,
    wsPort: 0,
    dropDisconnect: true,
    logger: silentLogger,
    env: {
      PRESENCE_JWT_SECRET: SECRET,
      PRESENCE_DYNAMODB_ENDPOINT: dynamoEndpoint,
      PRESENCE_TABLE_NAME: `bench-detect-${randomUUID().slice(0, 8)}`,
      PRESENCE_CONNECTION_LEASE_SECONDS: String(lease),
      PRESENCE_IDLE_TIMEOUT_SECONDS: String(idle),
      PRESENCE_MIN_IDLE_TIMEOUT_SECONDS: '1',
    },
  });
  const run = randomUUID().slice(0, 6);
  const open = async (workspace: string, user: string): Promise<WebSocket> => {
    const token = await mintToken({ workspace, user }, stack.signing);
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${stack.wsUrl}?token=${encodeURIComponent(token)}`);
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
  };
  const received: Received[] = [];
  const timers: NodeJS.Timeout[] = [];
  const sockets: WebSocket[] = [];
  // A teammate that stays live and active and records every offline it sees.
  const watch = async (workspace: string) => {
    const watcher = await open(workspace, 'watcher');
    sockets.push(watcher);
    watcher.on('message', (data) => {
      const message = JSON.parse(String(data)) as Received & { type: string };
      if (message.type === 'presence' && message.status === 'offline') received.push({ ...message, receivedAt: Date.now() });
    });
    timers.push(setInterval(() => watcher.send(JSON.stringify({ action: 'heartbeat', active: true })), 1000));
  };
  try {
    // One workspace per victim: a fan-out in the victim's workspace would post to the dead
    // connection, get 410 and take the user offline as `disconnect` before its lease ends.
    await Promise.all(
      Array.from({ length: samples }, async (_, i) => {
        // Spread over one sweep interval so the victims meet the sweeper at different phases.
        await new Promise((resolve) => setTimeout(resolve, (i * 5000) / samples));
        await watch(`dies-${run}-${i}`);
        await watch(`idles-${run}-${i}`);
        const dying = await open(`dies-${run}-${i}`, `dies-${i}`);
        const idler = await open(`idles-${run}-${i}`, `idles-${i}`);
        sockets.push(idler);
        dying.send(JSON.stringify({ action: 'heartbeat', active: true }));
        // Dies with no close frame; $disconnect is dropped, as AWS may.
        setTimeout(() => dying.terminate(), 500);
        // Keeps its connection alive but is never active again.
        // Beats every 6 s, rarer than sweeps as in production (30 s), so the sweeper usually sees the
        // deadline first and a beat sometimes does.
        timers.push(setInterval(() => idler.send(JSON.stringify({ action: 'heartbeat', active: false })), 6000));
      }),
    );
    const deadline = Date.now() + (lease + idle + 20) * 1000;
    while (Date.now() < deadline) {
      const timeouts = received.filter((m) => m.userId.startsWith('dies-')).length;
      const idles = received.filter((m) => m.userId.startsWith('idles-')).length;
      if (timeouts >= samples && idles >= samples) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    for (const timer of timers) clearInterval(timer);
    for (const socket of sockets) socket.terminate();
    await stack.stop();
  }
  const unexpected = received.filter((m) => (m.userId.startsWith('dies-') && m.reason !== 'timeout') || (m.userId.startsWith('idles-') && m.reason !== 'idle'));
  if (unexpected.length > 0) process.stderr.write(`bench: detection saw unexpected reasons: ${unexpected.map((m) => `${m.userId}:${m.reason}`).join(' ')}\n`);
  const lags = (prefix: string, reason: string) =>
    received
      .filter((m) => m.userId.startsWith(prefix) && m.reason === reason)
      .map((m) => m.receivedAt - m.at)
      .sort((a, b) => a - b);
  const timeoutLags = lags('dies-', 'timeout');
  const idleLags = lags('idles-', 'idle');
  return {
    samples: Math.min(timeoutLags.length, idleLags.length),
    timeoutLagMs: { p50: Math.round(percentile(timeoutLags, 50)), max: Math.round(timeoutLags.at(-1) ?? Number.NaN) },
    idleLagMs: { p50: Math.round(percentile(idleLags, 50)), max: Math.round(idleLags.at(-1) ?? Number.NaN) },
    leaseSeconds: lease,
    idleTimeoutSeconds: idle,
    sweepIntervalSeconds: 5,
  };
}

/** `npm start` on free ports and an in-memory DynamoDB Local, to its `ready` line; then SIGINT. */
export async function readyScenario(): Promise<{ readyMs: number; reportedSeconds: number }> {
  const started = performance.now();
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, PRESENCE_HTTP_PORT: '0', PRESENCE_WS_PORT: '0', PRESENCE_DATA_DIR: ':memory:', PRESENCE_JWT_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stopGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  try {
    return await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`npm start printed no ready line in 60 s: ${out}`)), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.startsWith('ready'));
        if (line) {
          clearTimeout(timer);
          resolve({ readyMs: Math.round(performance.now() - started), reportedSeconds: Number(/ready in ([\d.]+) s/.exec(line)?.[1] ?? Number.NaN) });
        }
      });
      child.once('exit', (code) => reject(new Error(`npm start exited with ${code} before ready: ${out}`)));
    });
  } finally {
    stopGroup('SIGINT');
    const timer = setTimeout(() => stopGroup('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}
