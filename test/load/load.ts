/**
 * Load with an observer: many agents on the local stack change status, reload and drop, each as
 * a sequence whose notifications are known in advance (the model: one per transition, in order,
 * with the right reason, status and previous). One observer per workspace records what really
 * arrived; at the end both are compared per user: nothing lost, nothing duplicated, no errors.
 *
 * CLI: `npm run load [-- --clients 1000 --seconds 300 --workspaces 50 --pace 30 --seed 7]` (the
 * defaults, except the seed: the run prints the one it drew). `--pace`: seconds between one agent's actions, at least. The stack, the emulator and
 * every client share one process here, and each `@connections` post through the SDK costs about
 * half a millisecond of it: 1,000 agents in teams of 20 acting every 30 to 54 s is what this
 * machine carries (the 200 of the test act every 2.5 s, in 10 teams).
 * (30 seconds of it run in `npm test`: test/load/load.test.ts, on its own after the other tests).
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import type { Logger } from '#app/ports.ts';
import { startLocalStack } from '#local/stack.ts';
import { mintToken, type SigningSettings } from '#local/tokens.ts';

export interface LoadOptions {
  clients: number;
  seconds: number;
  workspaces: number;
  seed: number;
  /** Each agent acts every `paceMs` to 1.8 × `paceMs` (default 2.5 s). */
  paceMs?: number;
  /** An existing DynamoDB (Local) endpoint; unset: the stack starts its own, in memory. */
  dynamoEndpoint?: string;
  tableName?: string;
  log?: (line: string) => void;
}

export interface LoadReport {
  clients: number;
  seconds: number;
  actions: number;
  /** The longest reload (close, then a new connection open): past the grace it is a disconnect. */
  slowestReloadMs: number;
  notificationsExpected: number;
  notificationsSeen: number;
  lost: number;
  duplicated: number;
  /** Users whose stream differed from the model (at most 10, for the log). */
  mismatches: Array<{ workspace: string; userId: string; expected: string[]; seen: string[] }>;
  /** `error` messages to clients, integration failures, and errors the stack logged. */
  errors: string[];
}

interface Message {
  type: string;
  /** A `presence` message's changes; each is recorded as a message of its own. */
  changes?: Message[];
  version?: number;
  userId?: string;
  status?: string;
  previous?: string;
  reason?: string;
  code?: string;
  message?: string;
}

/** A small deterministic generator, so a run can be repeated with its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
}

class Socket {
  readonly messages: Message[] = [];
  private waiters: Array<{ match: (m: Message) => boolean; resolve: () => void }> = [];
  readonly closed: Promise<void>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Message;
      // One entry per change: the protocol batches changes per delivery.
      for (const message of frame.type === 'presence' ? (frame.changes ?? []).map((change) => ({ ...change, type: 'presence' })) : [frame]) {
        this.messages.push(message);
        this.waiters = this.waiters.filter((waiter) => {
          if (!waiter.match(message)) return true;
          waiter.resolve();
          return false;
        });
      }
    });
    this.closed = new Promise((resolve) => ws.on('close', () => resolve()));
  }

  static open(url: string): Promise<Socket> {
    return new Promise((resolve, reject) => {
      // A handshake that never completes fails the run instead of stalling it.
      const ws = new WebSocket(url, { handshakeTimeout: 30_000 });
      ws.once('open', () => resolve(new Socket(ws)));
      ws.once('error', reject);
    });
  }

  send(message: object): void {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`the connection is not open (state ${this.ws.readyState})`);
    this.ws.send(JSON.stringify(message));
  }

  /** Resolves on the first message from index `since` on that matches. */
  /** `timeoutMs` 0 waits for ever (for the losing side of a race, which must not reject later). */
  wait(match: (m: Message) => boolean, since: number, what: string, timeoutMs = 60_000): Promise<void> {
    if (this.messages.slice(since).some(match)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = timeoutMs > 0 ? setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs) : undefined;
      this.waiters.push({
        match,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

const describe = (m: { reason?: string; previous?: string; status?: string }) => `${m.reason}:${m.previous}->${m.status}`;

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const log = options.log ?? (() => {});
  const errors: string[] = [];
  const logger: Logger = {
    info() {},
    warn() {},
    error: (message, ...extra) => errors.push(`stack: ${message} ${JSON.stringify(extra).slice(0, 200)}`),
  };
  const stack = await startLocalStack({
    httpPort: 0,
    wsPort: 0,
    logger,
    env: {
      PRESENCE_JWT_SECRET: 'load-test-secret-0123456789abcdef-0123',
      PRESENCE_DATA_DIR: ':memory:',
      PRESENCE_SWEEP_INTERVAL_SECONDS: '1',
      ...(options.dynamoEndpoint ? { PRESENCE_DYNAMODB_ENDPOINT: options.dynamoEndpoint } : {}),
      PRESENCE_TABLE_NAME: options.tableName ?? `load-${Date.now()}`,
    },
  });
  const signing: SigningSettings = stack.signing;
  const run = Date.now().toString(36);
  const workspaces = Array.from({ length: options.workspaces }, (_, i) => `load-${run}-${i}`);
  const url = async (workspace: string, user: string) =>
    `${stack.wsUrl}?token=${await mintToken({ workspace, user }, signing)}`;
  const actions = { count: 0 };
  const slowest = { reloadMs: 0 };
  const expected = new Map<string, string[]>(); // `${ws}/${user}` → notifications, in order
  // Every timer of the run, cleared in `finally` whatever happens; `stopped` keeps actors still
  // running after a failure from starting new ones.
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  const every = (ms: number, run: () => void) => {
    if (!stopped) timers.push(setInterval(run, ms));
  };

  try {
    // One observer per workspace sees every notification of its users.
    const observers = new Map<string, Socket>();
    for (const workspace of workspaces) observers.set(workspace, await Socket.open(await url(workspace, 'observer')));
    every(5000, () => {
      for (const observer of observers.values()) {
        if (observer.ws.readyState === WebSocket.OPEN) observer.send({ action: 'heartbeat', active: true });
      }
    });

    const deadline = Date.now() + options.seconds * 1000;
    const rng = random(options.seed);
    const users = Array.from({ length: options.clients }, (_, i) => ({
      workspace: workspaces[i % workspaces.length] ?? '',
      userId: `agent-${i}`,
      seed: Math.floor(rng() * 2 ** 31),
    }));

    const actor = async ({ workspace, userId, seed }: (typeof users)[number]) => {
      const next = random(seed);
      const model: string[] = [];
      expected.set(`${workspace}/${userId}`, model);
      const observer = observers.get(workspace) as Socket;
      const seen = (reason: string, since: number) =>
        observer.wait((m) => m.type === 'presence' && m.userId === userId && m.reason === reason, since, `${userId} ${reason}`);
      let status = 'offline';
      let chosen = 'online';
      const connect = async (): Promise<Socket> => {
        const since = observer.messages.length;
        const socket = await Socket.open(await url(workspace, userId));
        if (status === 'offline') {
          model.push(describe({ reason: 'connect', previous: 'offline', status: chosen }));
          await seen('connect', since);
          status = chosen;
        }
        return socket;
      };
      // Spread the arrivals, as a team logging in: 30 agents a second, at least over 3 s.
      await new Promise((resolve) => setTimeout(resolve, next() * Math.max(3000, (options.clients / 30) * 1000)));
      let socket = await connect();
      // Beats go on after this agent's last action, until the run ends: an agent that finishes
      // early must not time out while the others finish (that `timeout` would be right).
      // Its own generator, so the seed alone decides the actions whatever the timers do.
      const beats = random(seed ^ 0x5bd1e995);
      every(5000, () => {
        if (socket.ws.readyState === WebSocket.OPEN) socket.send({ action: 'heartbeat', active: beats() < 0.5 });
      });
        while (Date.now() < deadline && !stopped) {
          const roll = next();
          actions.count++;
          if (roll < 0.6) {
            const target = chosen === 'online' ? 'away' : 'online';
            const since = observer.messages.length;
            const mine = socket.messages.length;
            socket.send({ action: 'setStatus', status: target });
            model.push(describe({ reason: 'manual', previous: status, status: target }));
            // An error reply (rate_limited, internal) ends the run at once instead of a timeout.
            await Promise.race([
              seen('manual', since),
              socket.wait((m) => m.type === 'error', mine, 'an error', 0).then(() => {
                const error = socket.messages.slice(mine).find((m) => m.type === 'error');
                throw new Error(`${userId}: setStatus refused with ${error?.code}: ${error?.message}`);
              }),
            ]);
            chosen = status = target;
          } else if (roll < 0.85) {
            // A reload: the new connection arrives within the reconnect grace, so nothing is sent.
            const started = Date.now();
            socket.ws.close(1001);
            await socket.closed;
            socket = await connect();
            slowest.reloadMs = Math.max(slowest.reloadMs, Date.now() - started);
          } else {
            // The network drops: the last connection ends, the grace passes, the user is offline.
            const since = observer.messages.length;
            socket.ws.terminate();
            model.push(describe({ reason: 'disconnect', previous: status, status: 'offline' }));
            await seen('disconnect', since);
            status = 'offline';
            socket = await connect();
          }
          // By default an agent acts every 2.5 to 4.5 s: busy, but within the per-connection rate
          // limit (a status change costs 4 of the 2 tokens a second).
          const pace = options.paceMs ?? 2500;
          await new Promise((resolve) => setTimeout(resolve, pace + next() * pace * 0.8));
        }
      return { current: () => socket };
    };

    log(`load: ${options.clients} agents in ${options.workspaces} workspaces for ${options.seconds} s, acting every ${(options.paceMs ?? 2500) / 1000} s or so`);
    let finished = 0;
    every(30_000, () => log(`  ${finished} agents done, ${stack.emulator.inFlight} requests in flight`));
    const sockets = await Promise.all(
      users.map((user) =>
        actor(user)
          .catch((error: unknown) => {
            log(`  ${user.workspace}/${user.userId} failed at ${new Date().toISOString()}: ${String(error)}`);
            throw error;
          })
          .finally(() => finished++),
      ),
    );
    log('  every agent done; waiting for the requests in flight and their deliveries');
    await stack.delivered();
    // Everything sent to an observer before its own snapshot has arrived with it.
    for (const observer of observers.values()) {
      const since = observer.messages.length;
      observer.send({ action: 'getPresence' });
      await observer.wait((m) => m.type === 'snapshot', since, 'the final snapshot');
    }

    const report: LoadReport = {
      clients: options.clients,
      seconds: options.seconds,
      actions: actions.count,
      slowestReloadMs: slowest.reloadMs,
      notificationsExpected: 0,
      notificationsSeen: 0,
      lost: 0,
      duplicated: 0,
      mismatches: [],
      errors,
    };
    for (const [workspace, observer] of observers) {
      for (const message of observer.messages) {
        if (message.type === 'error') errors.push(`observer: ${message.code} ${message.message}`);
      }
      for (const { userId } of users.filter((user) => user.workspace === workspace)) {
        const model = expected.get(`${workspace}/${userId}`) ?? [];
        // As a client shows them: a change whose version is not greater than the last is a repeat.
        let held = 0;
        const seen = observer.messages
          .filter((m) => m.type === 'presence' && m.userId === userId)
          .filter((m) => {
            if ((m.version ?? 0) <= held) return false;
            held = m.version ?? 0;
            return true;
          })
          .map(describe);
        report.notificationsExpected += model.length;
        report.notificationsSeen += seen.length;
        const same = model.length === seen.length && model.every((entry, i) => entry === seen[i]);
        if (!same) {
          report.lost += Math.max(0, model.length - seen.length);
          report.duplicated += Math.max(0, seen.length - model.length);
          if (report.mismatches.length < 10) report.mismatches.push({ workspace, userId, expected: model, seen });
        }
      }
    }
    stopped = true;
    for (const timer of timers) clearInterval(timer);
    for (const socket of sockets.map((agent) => agent.current())) {
      for (const message of socket.messages) {
        if (message.type === 'error' || message.message === 'Internal server error') {
          errors.push(`client: ${message.code ?? ''} ${message.message ?? ''}`);
        }
      }
      socket.ws.close();
    }
    for (const observer of observers.values()) observer.ws.close();
    return report;
  } finally {
    stopped = true;
    for (const timer of timers) clearInterval(timer);
    await stack.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '1000' },
      seconds: { type: 'string', default: '300' },
      workspaces: { type: 'string', default: '50' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      pace: { type: 'string', default: '30' },
    },
  });
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const report = await runLoad({
    clients: Number(values.clients),
    seconds: Number(values.seconds),
    workspaces: Number(values.workspaces),
    seed: Number(values.seed),
    paceMs: Number(values.pace) * 1000,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const { mismatches, errors, ...numbers } = report;
  process.stdout.write(`| ${Object.keys(numbers).join(' | ')} | errors |\n|${' --- |'.repeat(Object.keys(numbers).length + 1)}\n`);
  process.stdout.write(`| ${Object.values(numbers).join(' | ')} | ${errors.length} |\n`);
  for (const mismatch of mismatches) process.stdout.write(`mismatch ${JSON.stringify(mismatch)}\n`);
  for (const error of errors.slice(0, 20)) process.stdout.write(`error ${error}\n`);
  process.stdout.write(`seed ${values.seed}\n`);
  process.exit(report.lost === 0 && report.duplicated === 0 && mismatches.length === 0 && errors.length === 0 ? 0 : 1);
}
