/**
 * Sweep and query at scale: many agents seeded with BatchWrite in exactly the item shape the
 * store writes (the store builds every item; a capturing client takes it instead of DynamoDB),
 * then one real sweep pass against a naive Scan-based sweep in the same run, and the
 * online-agents query.
 */
import { performance } from 'node:perf_hooks';
import { BatchWriteCommand, type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbPresenceStore } from '#adapters/dynamodb-store.ts';
import { type Agent, nextDeadline, type Policy } from '#domain/agent.ts';
import * as decide from '#domain/decisions.ts';
import { queryAgents } from '#app/agents.ts';
import { mutateAgent } from '#app/mutate.ts';
import { workspacePolicy } from '#app/policy.ts';
import type { Ports, StoredAgent } from '#app/ports.ts';
import { sweep } from '#app/sweep.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { benchPorts, CapacityMeter, DEFAULT_CONFIG, ManualClock, meteredClient, newTable, round } from './lib.ts';

const POLICY: Policy = { leaseMs: DEFAULT_CONFIG.leaseMs, graceMs: DEFAULT_CONFIG.graceMs, idleTimeoutMs: DEFAULT_CONFIG.defaultIdleTimeoutSeconds * 1000 };

/** The items the store would write for these agents, captured instead of sent. */
async function itemsFor(agents: Agent[], now: number): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const capture = {
    send: async (command: { input: { Item?: Record<string, unknown> } }) => {
      if (command.input.Item) items.push(command.input.Item);
      return {};
    },
  } as unknown as DynamoDBDocumentClient;
  const store = new DynamoDbPresenceStore({ client: capture, tableName: 'capture', agentRetentionMs: DEFAULT_CONFIG.agentRetentionMs });
  for (const agent of agents) await store.saveAgent(agent, nextDeadline(agent, POLICY), now);
  return items;
}

async function batchPut(doc: DynamoDBDocumentClient, tableName: string, items: Record<string, unknown>[]): Promise<void> {
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  await forEachLimited(batches, 16, async (batch) => {
    let requests = batch.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 10) throw new Error('seeding: unprocessed items keep coming back');
      const result = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (result.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  });
}

function agent(workspaceId: string, userId: string, now: number, shape: 'due' | 'live' | 'offline'): Agent {
  const leaseUntil = shape === 'due' ? now - 1_000 : shape === 'live' ? now + 60_000 : 0;
  return {
    workspaceId,
    userId,
    name: `Agent ${userId}`,
    teams: ['sales'],
    chosen: 'online',
    awayReason: null,
    by: null,
    unavailableSince: null,
    unavailableNotified: false,
    status: shape === 'offline' ? 'offline' : 'online',
    reason: shape === 'offline' ? 'disconnect' : 'connect',
    since: now - 3_600_000,
    lastActiveAt: now - 30_000,
    connections: shape === 'offline' ? {} : { [`c-${userId}`]: now - 3_600_000 },
    leaseUntil,
    graceUntil: null,
    loggedOut: false,
    version: 0,
  };
}

export interface SweepResult {
  agents: number;
  due: number;
  transitions: number;
  itemsReadPerTransition: number;
  rruPerTransition: number;
  passMs: number;
  baselineTransitions: number;
  baselineItemsReadPerTransition: number;
  baselineRruPerTransition: number;
  baselinePassMs: number;
  seedMs: number;
}

/**
 * The naive sweep, written only as the baseline: Scan the whole table, decide on every agent item,
 * then expire the due ones exactly as the real sweep does.
 */
async function scanSweep(ports: Ports, doc: DynamoDBDocumentClient, tableName: string): Promise<number> {
  const now = ports.clock.now();
  let transitions = 0;
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  const due: StoredAgent[] = [];
  do {
    const page = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey }));
    ExclusiveStartKey = page.LastEvaluatedKey;
    for (const item of page.Items ?? []) {
      if (typeof item.dueAt === 'number' && item.dueAt <= now) due.push({ ...(item as unknown as StoredAgent), reason: item.reason ?? null, graceUntil: item.graceUntil ?? null });
    }
  } while (ExclusiveStartKey);
  const policies = new Map<string, Promise<Policy>>();
  await forEachLimited(due, 8, async (candidate) => {
    let policy = policies.get(candidate.workspaceId);
    if (!policy) {
      policy = workspacePolicy(ports, candidate.workspaceId);
      policies.set(candidate.workspaceId, policy);
    }
    const { decision, written } = await mutateAgent(ports, candidate.workspaceId, candidate.userId, (stored, at, current) => (stored ? decide.expire(stored, { now: at }, current) : null), {
      agent: candidate,
      policy: await policy,
    });
    if (!written || !decision || decision.transitions.length === 0) return;
    transitions += decision.transitions.length;
    if (decision.droppedConnections.length > 0) await ports.store.deleteConnections(candidate.workspaceId, decision.droppedConnections);
  });
  return transitions;
}

/** `agents` spread over workspaces of 1,000; `due` of them with a lease that just passed. */
export async function sweepScenario(endpoint: string, agents: number, due: number): Promise<SweepResult> {
  const meter = new CapacityMeter();
  const db = meteredClient(endpoint, meter);
  const clock = new ManualClock();
  const now = clock.now();
  const tableName = await newTable(db.client, 'sweep');
  const ports = benchPorts(db.doc, tableName, clock);
  const every = Math.floor(agents / due);
  const all: Agent[] = [];
  const dueAgents: Agent[] = [];
  for (let i = 0; i < agents; i++) {
    const isDue = i % every === 0 && dueAgents.length < due;
    const a = agent(`ws-${Math.floor(i / 1000)}`, `u${i}`, now, isDue ? 'due' : 'live');
    all.push(a);
    if (isDue) dueAgents.push(a);
  }
  const seedStarted = performance.now();
  await batchPut(db.doc, tableName, await itemsFor(all, now));
  const seedMs = performance.now() - seedStarted;
  const dueItems = await itemsFor(dueAgents, now);

  meter.reset();
  let started = performance.now();
  const baselineTransitions = await scanSweep(ports, db.doc, tableName);
  const baselinePassMs = performance.now() - started;
  const baseline = meter.snapshot();

  // The same due agents again, for the real sweep.
  await batchPut(db.doc, tableName, dueItems);
  meter.reset();
  started = performance.now();
  const report = await sweep(ports);
  const passMs = performance.now() - started;
  const real = meter.snapshot();
  db.client.destroy();
  return {
    agents,
    due: dueAgents.length,
    transitions: report.transitions,
    itemsReadPerTransition: round(real.itemsRead / Math.max(1, report.transitions), 3),
    rruPerTransition: round(real.readUnits / Math.max(1, report.transitions), 3),
    passMs: Math.round(passMs),
    baselineTransitions,
    baselineItemsReadPerTransition: round(baseline.itemsRead / Math.max(1, baselineTransitions), 3),
    baselineRruPerTransition: round(baseline.readUnits / Math.max(1, baselineTransitions), 3),
    baselinePassMs: Math.round(baselinePassMs),
    seedMs: Math.round(seedMs),
  };
}

export interface QueryResult {
  agents: number;
  online: number;
  returned: number;
  itemsRead: number;
  itemsReadPerAgent: number;
  rruPerAgent: number;
  queryMs: number;
}

/** One workspace of `agents`, `online` of them online, the rest offline; the online-agents query. */
export async function queryScenario(endpoint: string, agents: number, online: number): Promise<QueryResult> {
  const meter = new CapacityMeter();
  const db = meteredClient(endpoint, meter);
  const clock = new ManualClock();
  const now = clock.now();
  const tableName = await newTable(db.client, 'query');
  const every = Math.floor(agents / online);
  const all: Agent[] = [];
  let onlineCount = 0;
  for (let i = 0; i < agents; i++) {
    const isOnline = i % every === 0 && onlineCount < online;
    if (isOnline) onlineCount++;
    all.push(agent('ws-query', `u${i}`, now, isOnline ? 'live' : 'offline'));
  }
  await batchPut(db.doc, tableName, await itemsFor(all, now));
  const ports = benchPorts(db.doc, tableName, clock);
  meter.reset();
  const started = performance.now();
  const result = await queryAgents(ports, { workspaceId: 'ws-query', status: 'online' });
  const queryMs = performance.now() - started;
  const read = meter.snapshot();
  db.client.destroy();
  return {
    agents,
    online: onlineCount,
    returned: result.length,
    itemsRead: read.itemsRead,
    itemsReadPerAgent: round(read.itemsRead / Math.max(1, result.length), 3),
    rruPerAgent: round(read.readUnits / Math.max(1, result.length), 3),
    queryMs: Math.round(queryMs),
  };
}
