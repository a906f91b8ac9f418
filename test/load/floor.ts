/**
 * A floor of one large workspace on a running local stack: workspace-wide wallboards (raw `ws`
 * clients that record every frame) connected first, then agents arriving as a connect storm, each
 * an SDK `PresenceClient` subscribed to its team before `connect()`. It records what every client
 * received and when each one's view is complete, and waits on those events, never on sleeps.
 *
 * Used by the storm test (test/load/storm.test.ts) and the `scale` benchmark (bench/workspaces.ts).
 */
import WebSocket from 'ws';
import { PresenceClient, type PresenceClientError } from '../../client/src/index.ts';
import { mintToken, type SigningSettings } from '#local/tokens.ts';

export interface FloorOptions {
  wsUrl: string;
  signing: SigningSettings;
  workspace: string;
  agents: number;
  teamSize: number;
  wallboards: number;
  /** Agents start connecting evenly over this window (the storm). */
  spreadMs: number;
  heartbeatIntervalMs: number;
}

/** One change as a client received it. */
interface Receipt {
  userId: string;
  status: string;
  reason: string;
  at: number;
  version: number;
  receivedAt: number;
}

const agentId = (i: number) => `agent-${i}`;
const teamOf = (i: number, teamSize: number) => `team-${Math.floor(i / teamSize)}`;

/** Counts the `presence` frames a socket receives; the SDK's own handler is left alone. */
function countingWebSocket(counter: { frames: number; receipts: Receipt[] | undefined }) {
  return class CountingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      this.on('message', (data) => {
        const text = String(data);
        if (!text.startsWith('{"type":"presence"')) return;
        counter.frames++;
        if (!counter.receipts) return;
        const receivedAt = Date.now();
        for (const change of (JSON.parse(text) as { changes: Omit<Receipt, 'receivedAt'>[] }).changes) {
          counter.receipts.push({ userId: change.userId, status: change.status, reason: change.reason, at: change.at, version: change.version, receivedAt });
        }
      });
    }
  };
}

/** A workspace-wide subscriber: a raw socket that holds the greatest version of every user. */
class Wallboard {
  frames = 0;
  readonly receipts: Receipt[] = [];
  readonly held = new Map<string, { status: string; version: number }>();
  errors: string[] = [];
  private waiters: Array<() => boolean> = [];
  private beat: NodeJS.Timeout | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const receivedAt = Date.now();
      const message = JSON.parse(String(data)) as {
        type: string;
        code?: string;
        message?: string;
        users?: Array<{ userId: string; status: string; version: number }>;
        changes?: Array<Omit<Receipt, 'receivedAt'>>;
      };
      if (message.type === 'snapshot') {
        for (const user of message.users ?? []) this.apply(user.userId, user.status, user.version);
      } else if (message.type === 'presence') {
        this.frames++;
        for (const change of message.changes ?? []) {
          this.receipts.push({ ...change, receivedAt });
          this.apply(change.userId, change.status, change.version);
        }
      } else if (message.type === 'error') {
        this.errors.push(`${message.code}: ${message.message}`);
      }
      this.waiters = this.waiters.filter((done) => !done());
    });
  }

  static async open(options: FloorOptions, user: string): Promise<Wallboard> {
    const token = await mintToken({ workspace: options.workspace, user }, options.signing);
    const ws = await new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(`${options.wsUrl}?token=${encodeURIComponent(token)}`, { handshakeTimeout: 30_000 });
      socket.once('open', () => resolve(socket));
      socket.once('error', reject);
    });
    const board = new Wallboard(ws);
    ws.send(JSON.stringify({ action: 'getPresence' }));
    board.beat = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ action: 'heartbeat', active: true }));
    }, options.heartbeatIntervalMs);
    return board;
  }

  private apply(userId: string, status: string, version: number): void {
    const known = this.held.get(userId);
    if (!known || version > known.version) this.held.set(userId, { status, version });
  }

  /** Resolves once `check` holds, re-checked on every message. */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) =>
      this.waiters.push(() => {
        if (!check()) return false;
        resolve();
        return true;
      }),
    );
  }

  close(): void {
    clearInterval(this.beat);
    this.ws.close();
  }
}

export interface Agent {
  index: number;
  userId: string;
  team: string;
  client: PresenceClient;
  counter: { frames: number; receipts: Receipt[] | undefined };
  /** Changes the SDK emitted (new versions only). */
  presence: Receipt[];
  errors: string[];
  /** When its connect() was called and when it resolved (Date.now()). */
  startedAt: number;
  readyAt: number;
}

export interface Floor {
  wallboards: Wallboard[];
  agents: Agent[];
  /** Date.now() of the first and the last connect() call, and of the last connect() resolved. */
  firstConnectAt: number;
  lastConnectAt: number;
  lastReadyAt: number;
  /** Starts the storm; resolves once every agent's `connect()` resolved (its team roster is loaded). */
  connectAll(): Promise<void>;
  close(): void;
}

/**
 * Wallboards connected (each with its snapshot in) and the agents' clients made, not connected:
 * `connectAll()` starts them, spread evenly over `spreadMs`. Watch with `converged()` before that.
 * `record`: keep every change each agent's socket received (for latency), not only counts.
 */
export async function openFloor(options: FloorOptions, record = false): Promise<Floor> {
  const wallboards: Wallboard[] = [];
  for (let w = 0; w < options.wallboards; w++) {
    const board = await Wallboard.open(options, `wallboard-${w}`);
    await board.until(() => board.held.has(`wallboard-${w}`));
    wallboards.push(board);
  }
  const agents: Agent[] = Array.from({ length: options.agents }, (_, index) => {
    const userId = agentId(index);
    const team = teamOf(index, options.teamSize);
    const counter = { frames: 0, receipts: record ? ([] as Receipt[]) : undefined };
    const client = new PresenceClient({
      url: options.wsUrl,
      token: () => mintToken({ workspace: options.workspace, user: userId, name: `Agent ${index}`, teams: [team] }, options.signing),
      WebSocket: countingWebSocket(counter),
      activity: 'manual',
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      // A storm must not be followed by a stampede of reconnects.
      reconnect: { minDelayMs: 500, maxDelayMs: 5_000 },
      // The stack is busy during a storm: give requests time.
      requestTimeoutMs: 60_000,
    });
    const agent: Agent = { index, userId, team, client, counter, presence: [], errors: [], startedAt: 0, readyAt: 0 };
    client.on('presence', (event) =>
      agent.presence.push({ userId: event.userId, status: event.status, reason: event.reason, at: event.at, version: event.version, receivedAt: Date.now() }),
    );
    client.on('error', (error: PresenceClientError) => agent.errors.push(`${error.code}: ${error.message}`));
    return agent;
  });
  const floor: Floor = {
    wallboards,
    agents,
    firstConnectAt: 0,
    lastConnectAt: 0,
    lastReadyAt: 0,
    connectAll: () => connectAll(floor, options),
    close() {
      for (const agent of agents) agent.client.close();
      for (const board of wallboards) board.close();
    },
  };
  return floor;
}

async function connectAll(floor: Floor, options: FloorOptions): Promise<void> {
  const agents = floor.agents;
  try {
    const step = options.agents > 1 ? options.spreadMs / (options.agents - 1) : 0;
    const origin = Date.now();
    await Promise.all(
      agents.map(async (agent) => {
        const wait = origin + agent.index * step - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        // Before connect(): the first connection asks for the team's snapshot.
        await agent.client.subscribe([agent.team]);
        agent.startedAt = Date.now();
        floor.firstConnectAt ||= agent.startedAt;
        floor.lastConnectAt = Math.max(floor.lastConnectAt, agent.startedAt);
        await agent.client.connect();
        agent.readyAt = Date.now();
        floor.lastReadyAt = Math.max(floor.lastReadyAt, agent.readyAt);
      }),
    );
  } catch (error) {
    floor.close();
    throw error;
  }
}

/** Resolves once `check` holds, re-checked on every roster event of the client. */
function untilRoster(client: PresenceClient, check: () => boolean): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve) => {
    const off = client.on('roster', () => {
      if (!check()) return;
      off();
      resolve();
    });
  });
}

/** Whether the agent's roster is exactly its team, every member online. */
export function complete(agent: Agent, options: Pick<FloorOptions, 'agents' | 'teamSize'>): boolean {
  const start = Math.floor(agent.index / options.teamSize) * options.teamSize;
  const roster = agent.client.roster;
  if (roster.size !== Math.min(options.teamSize, options.agents - start)) return false;
  for (const entry of roster.values()) if (entry.status !== 'online' || !entry.teams.includes(agent.team)) return false;
  return true;
}

/**
 * Waits until every wallboard holds every agent online and every agent's roster is exactly its
 * team, all online. Returns when that happened (Date.now()).
 */
export async function converged(floor: Floor, options: Pick<FloorOptions, 'agents' | 'teamSize'>): Promise<number> {
  let last = 0;
  const mark = () => (last = Math.max(last, Date.now()));
  const onlineAgents = (board: Wallboard) => {
    let count = 0;
    for (let i = 0; i < options.agents; i++) if (board.held.get(agentId(i))?.status === 'online') count++;
    return count;
  };
  await Promise.all([
    ...floor.wallboards.map((board) => board.until(() => onlineAgents(board) === options.agents).then(mark)),
    ...floor.agents.map((agent) =>
      untilRoster(agent.client, () => complete(agent, options)).then(mark),
    ),
  ]);
  return last;
}
