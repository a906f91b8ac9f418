/**
 * Large workspaces (`scale` in bench/results/latest.json): the connect storm of 1,000 agents in
 * teams of 25 with 3 wallboards (clients in a child process, test/load/storm.ts), and one
 * snapshot of 5,000 users seeded straight into the table. Measures and reports; asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { DynamoDbPresenceStore } from '#adapters/dynamodb-store.ts';
import { newAgent, type Transition } from '#domain/agent.ts';
import { deliverChanges } from '#app/fanout.ts';
import type { Logger } from '#app/ports.ts';
import { makeDocumentClient } from '#handlers/composition.ts';
import { startLocalStack } from '#local/stack.ts';
import { mintToken } from '#local/tokens.ts';
import { type Floor, openFloor } from '#test/load/floor.ts';
import { runStormInChild, type StormReport } from '#test/load/storm.ts';
import { benchPorts, CapacityMeter, meteredClient, newTable, round } from './lib.ts';

const SECRET = `bench-secret-${randomUUID()}`;

function countingLogger() {
  const counts = { errors: 0, warnings: 0, firstError: '' };
  const debug = process.env.BENCH_DEBUG ? (level: string, message: string, extra: unknown[]) => process.stderr.write(`${level} ${message} ${JSON.stringify(extra, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v)).slice(0, 400)}\n`) : () => {};
  const logger: Logger = {
    info() {},
    warn: (message, ...extra) => {
      counts.warnings++;
      debug('warn', message, extra);
    },
    error: (message, ...extra) => {
      counts.errors++;
      counts.firstError ||= message;
      debug('error', message, extra);
    },
  };
  return { logger, counts };
}

export type StormResult = Omit<StormReport, 'flaps' | 'clientErrors' | 'incomplete'> & {
  flaps: number;
  clientErrors: number;
  stackErrors: number;
  stackWarnings: number;
  firstStackError: string;
  incomplete: string[];
};

/** The storm on its own stack (real clock, sweeper timer); gives up `giveUpMs` after the last connect. */
export async function stormScenario(dynamoEndpoint: string, agents: number, giveUpMs: number): Promise<StormResult> {
  const { logger, counts } = countingLogger();
  const stack = await startLocalStack({
    httpPort: 0,
    wsPort: 0,
    logger,
    env: { PRESENCE_JWT_SECRET: SECRET, PRESENCE_DYNAMODB_ENDPOINT: dynamoEndpoint, PRESENCE_TABLE_NAME: `bench-storm-${randomUUID().slice(0, 8)}` },
  });
  try {
    const report = await runStormInChild({
      wsUrl: stack.wsUrl,
      signing: stack.signing,
      delivered: () => stack.delivered(),
      workspace: `storm-${randomUUID().slice(0, 8)}`,
      agents,
      giveUpMs,
      ...(process.env.BENCH_DEBUG ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
    });
    return {
      ...report,
      flaps: report.flaps.length,
      clientErrors: report.clientErrors.length,
      incomplete: report.incomplete.slice(0, 3),
      stackErrors: counts.errors,
      stackWarnings: counts.warnings,
      firstStackError: counts.firstError,
    };
  } finally {
    await stack.stop();
  }
}

export interface SnapshotResult {
  users: number;
  parts: number;
  bytes: number;
  /** From sending getPresence until the last part arrived. */
  ms: number;
}

/** `users` agents written straight into the table, then one getPresence of the whole workspace. */
export async function snapshotScenario(dynamoEndpoint: string, users: number): Promise<SnapshotResult> {
  const stack = await startLocalStack({
    httpPort: 0,
    wsPort: 0,
    sweepTimer: false,
    fanoutWorkers: 0,
    logger: countingLogger().logger,
    env: { PRESENCE_JWT_SECRET: SECRET, PRESENCE_DYNAMODB_ENDPOINT: dynamoEndpoint, PRESENCE_TABLE_NAME: `bench-snap-${randomUUID().slice(0, 8)}` },
  });
  try {
    const workspace = `snap-${randomUUID().slice(0, 8)}`;
    const store = new DynamoDbPresenceStore({ client: makeDocumentClient({ PRESENCE_DYNAMODB_ENDPOINT: dynamoEndpoint }), tableName: stack.tableName, agentRetentionMs: 86_400_000 });
    const now = Date.now();
    for (let start = 0; start < users; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, users - start) }, (_, k) =>
          store.saveAgent(newAgent({ workspaceId: workspace, userId: `agent-${start + k}`, name: `Agent ${start + k}`, teams: [`team-${Math.floor((start + k) / 25)}`] }, now), null, now),
        ),
      );
    }
    const token = await mintToken({ workspace, user: 'viewer' }, stack.signing);
    const socket = await new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${stack.wsUrl}?token=${encodeURIComponent(token)}`);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
    // The viewer's own connect is delivered first, so it does not land among the parts.
    await stack.delivered();
    const result = await new Promise<SnapshotResult>((resolve) => {
      let parts = 0;
      let bytes = 0;
      const started = performance.now();
      socket.on('message', (data) => {
        const text = String(data);
        const message = JSON.parse(text) as { type: string; part?: number; parts?: number };
        if (message.type !== 'snapshot') return;
        parts++;
        bytes += Buffer.byteLength(text);
        if (parts === message.parts) resolve({ users, parts, bytes, ms: Math.round(performance.now() - started) });
      });
      socket.send(JSON.stringify({ action: 'getPresence' }));
    });
    socket.terminate();
    return result;
  } finally {
    await stack.stop();
  }
}

export interface SizeResult {
  agents: number;
  wallboards: number;
  transitions: number;
  /** `presence` frames every client received per transition (each a billed API Gateway message). */
  messagesPerTransition: number;
  /** 120 heartbeats in (30 s beats) + 4 transitions × messagesPerTransition. */
  messagesPerAgentHour: number;
  usdPer1000AgentHours: number;
  /** Commit (`at`) to receipt at team subscribers (the changer's own connection excluded). */
  p50Ms: number;
  p99Ms: number;
  /** The same at the wallboards. */
  wallboardP50Ms: number;
  wallboardP99Ms: number;
  failedChanges: number;
}

/**
 * `agents` connected agents in teams of 25, each subscribed to its team, plus one wallboard per
 * 100 agents (at least 1), connected at 20 a second (well below the storm); then `transitions`
 * setStatus toggles by random agents, `spacingMs` apart, so each is delivered on its own (at 4
 * transitions an agent-hour even 2,000 agents make only 2.2 a second). Clients in the stack's
 * process.
 */
export async function sizeScenario(dynamoEndpoint: string, agents: number, transitions: number, spacingMs: number, usdPerMillionMessages: number): Promise<SizeResult> {
  const { logger } = countingLogger();
  const stack = await startLocalStack({
    httpPort: 0,
    wsPort: 0,
    logger,
    env: { PRESENCE_JWT_SECRET: SECRET, PRESENCE_DYNAMODB_ENDPOINT: dynamoEndpoint, PRESENCE_TABLE_NAME: `bench-size-${randomUUID().slice(0, 8)}` },
  });
  const wallboards = Math.max(1, Math.floor(agents / 100));
  let floor: Floor | undefined;
  try {
    floor = await openFloor(
      { wsUrl: stack.wsUrl, signing: stack.signing, workspace: `size-${randomUUID().slice(0, 8)}`, agents, teamSize: 25, wallboards, spreadMs: agents * 50, heartbeatIntervalMs: 30_000 },
      true,
    );
    await floor.connectAll();
    await stack.delivered();
    for (const agent of floor.agents) {
      agent.counter.frames = 0;
      agent.counter.receipts!.length = 0;
    }
    for (const board of floor.wallboards) {
      board.frames = 0;
      board.receipts.length = 0;
    }
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let failedChanges = 0;
    for (let t = 0; t < transitions; t++) {
      const agent = floor.agents[Math.floor(next() * agents)]!;
      const target = agent.client.me?.status === 'away' ? 'online' : 'away';
      await agent.client.setStatus(target).catch(() => void failedChanges++);
      await new Promise((resolve) => setTimeout(resolve, spacingMs));
    }
    await stack.delivered();
    const frames = floor.agents.reduce((sum, a) => sum + a.counter.frames, 0) + floor.wallboards.reduce((sum, b) => sum + b.frames, 0);
    const perTransition = frames / transitions;
    const perHour = 120 + 4 * perTransition;
    const team = floor.agents.flatMap((a) => a.counter.receipts!.filter((r) => r.reason === 'manual' && r.userId !== a.userId).map((r) => r.receivedAt - r.at)).sort((a, b) => a - b);
    const boards = floor.wallboards.flatMap((b) => b.receipts.filter((r) => r.reason === 'manual').map((r) => r.receivedAt - r.at)).sort((a, b) => a - b);
    const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
    return {
      agents,
      wallboards,
      transitions,
      messagesPerTransition: Math.round(perTransition * 100) / 100,
      messagesPerAgentHour: Math.round(perHour * 10) / 10,
      usdPer1000AgentHours: Math.round(((perHour * 1000 * usdPerMillionMessages) / 1e6) * 10_000) / 10_000,
      p50Ms: pct(team, 50),
      p99Ms: pct(team, 99),
      wallboardP50Ms: pct(boards, 50),
      wallboardP99Ms: pct(boards, 99),
      failedChanges,
    };
  } finally {
    floor?.close();
    await stack.stop();
  }
}

export interface DeliveryReadsResult {
  connections: number;
  wallboards: number;
  /** Read units the consumer spends on one transition of a team agent: its audience from the subscriber index. */
  audienceReadUnits: number;
  audienceQueries: number;
  /** Connections that audience holds (the agent's own, its 24 teammates, the wallboards). */
  audienceConnections: number;
  /** Posts the transition made (one per audience connection). */
  posts: number;
  /** What listing every connection of the workspace would read instead (the design before the index). */
  workspaceListReadUnits: number;
}

/**
 * The consumer's reads for one transition, metered with DynamoDB Local's ConsumedCapacity:
 * `connections` team subscribers (teams of 25) and one wallboard per 100, written straight into
 * the table, then one change of a team agent delivered through deliverChanges. Compared with
 * one consistent Query of every connection item of the workspace.
 */
export async function deliveryReadsScenario(dynamoEndpoint: string, connections: number): Promise<DeliveryReadsResult> {
  const meter = new CapacityMeter();
  const db = meteredClient(dynamoEndpoint, meter);
  const tableName = await newTable(db.client, 'reads');
  const ports = benchPorts(db.doc, tableName, { now: () => Date.now() });
  const workspace = `reads-${randomUUID().slice(0, 8)}`;
  const wallboards = Math.max(1, Math.floor(connections / 100));
  const connectedAt = Date.now();
  const records = [
    ...Array.from({ length: connections }, (_, i) => ({ connectionId: `conn-${i}`, userId: `agent-${i}`, connectedAt, scope: [`team-${Math.floor(i / 25)}`] })),
    ...Array.from({ length: wallboards }, (_, i) => ({ connectionId: `board-${i}`, userId: `supervisor-${i}`, connectedAt })),
  ];
  for (let start = 0; start < records.length; start += 50) {
    await Promise.all(records.slice(start, start + 50).map((record) => ports.store.putConnection(workspace, record)));
  }
  const change: Transition = { workspaceId: workspace, userId: 'agent-0', name: 'Agent 0', teams: ['team-0'], status: 'away', previous: 'online', reason: 'manual', at: Date.now(), version: 2 };
  meter.reset();
  await deliverChanges(ports, [change]);
  const audience = meter.snapshot();
  // Read now: the snapshot's per-operation rows are the meter's own, which later reads add to.
  const audienceQueries = audience.byOperation.QueryCommand?.requests ?? 0;
  const audienceConnections = (await ports.store.listAudience(workspace, ['agent-0'], ['team-0'])).length;
  meter.reset();
  await ports.store.listConnections(workspace);
  const list = meter.snapshot();
  db.client.destroy();
  return {
    connections,
    wallboards,
    audienceReadUnits: round(audience.readUnits),
    audienceQueries,
    audienceConnections,
    posts: ports.gateway.posts,
    workspaceListReadUnits: round(list.readUnits),
  };
}
