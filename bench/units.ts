/**
 * DynamoDB units, messages and Lambda invocations per agent-hour: one agent on its own table,
 * driven through the real handlers with a manual clock for one simulated hour, the sweeper pass
 * every sweep interval. Every DynamoDB request is counted with the ConsumedCapacity DynamoDB
 * Local reports (indexes included).
 */
import { performance } from 'node:perf_hooks';
import { sweep } from '#app/sweep.ts';
import { makeConnectHandler, makeDisconnectHandler, makeHeartbeatHandler } from '#handlers/websocket.ts';
import { benchPorts, CapacityMeter, ManualClock, meteredClient, newTable, wsEvent } from './lib.ts';

export interface HourProfile {
  heartbeatSeconds: number;
  leaseSeconds: number;
  /** true: the user is active between every two beats; false: never after connecting. */
  active: boolean;
}

export interface HourResult extends HourProfile {
  /** Units of the agent's own requests in the hour (handlers, and the sweeper's writes). */
  wru: number;
  rru: number;
  requests: number;
  /** Writes of the agent item by kind of target: table, byStatus, byDeadline. */
  wruByTarget: Record<string, number>;
  heartbeats: number;
  heartbeatWrites: number;
  transitions: number;
  /** Presence messages posted to connections (API Gateway outbound messages). */
  posts: number;
  events: number;
  /** Handler invocations in the hour (heartbeat route) and their billed milliseconds (rounded up per call). */
  invocations: number;
  billedMs: number;
  handlerMsP50: number;
  /** One session: connect + disconnect, its units, invocations (authorizer, $connect, $disconnect) and billed ms. */
  session: { wru: number; rru: number; invocations: number; billedMs: number; posts: number; events: number };
  /** Sweeper passes: what the empty passes cost, whoever is connected (fixed per deployment). */
  sweep: { passes: number; rruPerEmptyPass: number; agentRru: number; agentWru: number };
  capacitySource: string;
}

const HOUR_MS = 3_600_000;

export async function simulateHour(endpoint: string, profile: HourProfile): Promise<HourResult> {
  const handlerMeter = new CapacityMeter();
  const sweepMeter = new CapacityMeter();
  const handlerDb = meteredClient(endpoint, handlerMeter);
  const sweepDb = meteredClient(endpoint, sweepMeter);
  const clock = new ManualClock();
  const tableName = await newTable(handlerDb.client, 'hour');
  const config = { leaseMs: profile.leaseSeconds * 1000 };
  const ports = benchPorts(handlerDb.doc, tableName, clock, config);
  const sweepPorts = { ...benchPorts(sweepDb.doc, tableName, clock, config), gateway: ports.gateway, events: ports.events };
  const deps = { ports };
  const unmeteredDb = meteredClient(endpoint, new CapacityMeter());
  const unmetered = benchPorts(unmeteredDb.doc, tableName, clock, config);
  const connect = makeConnectHandler(deps);
  const heartbeat = makeHeartbeatHandler(deps);
  const disconnect = makeDisconnectHandler(deps);
  const workspaceId = 'bench-ws';
  const userId = 'agent-1';
  const connectionId = 'conn-1';
  const connectedAt = clock.now();

  const timed = async (run: () => Promise<unknown>): Promise<number> => {
    const started = performance.now();
    await run();
    return Math.ceil(performance.now() - started);
  };

  // Empty-pass cost: what a sweep pass reads with nobody due (16 shard queries).
  await sweep(sweepPorts);
  const rruPerEmptyPass = sweepMeter.readUnits;
  sweepMeter.reset();

  const sessionStart = { wru: 0, rru: 0 };
  const connectMs = await timed(() => connect(wsEvent('$connect', 'CONNECT', connectionId, connectedAt, workspaceId, userId)));
  sessionStart.wru = handlerMeter.writeUnits;
  sessionStart.rru = handlerMeter.readUnits;
  const sessionPosts = ports.gateway.posts;
  const sessionEvents = ports.events.events;
  handlerMeter.reset();
  ports.gateway.posts = 0;
  ports.events.events = 0;

  const sweepIntervalMs = ports.config.sweepIntervalMs;
  const beatMs = profile.heartbeatSeconds * 1000;
  const start = clock.now();
  const handlerTimes: number[] = [];
  let heartbeats = 0;
  let heartbeatWrites = 0;
  let passes = 0;
  let sweptPasses = 0;
  let transitions = 0;
  // Beats fall half a sweep interval after passes, so neither always wins a deadline.
  const tick = sweepIntervalMs / 2;
  for (let t = tick; t <= HOUR_MS + tick; t += tick) {
    clock.current = start + t;
    if ((t - tick) % beatMs === 0 && t > tick) {
      const before = handlerMeter.writeUnits;
      handlerTimes.push(
        await timed(() =>
          heartbeat(wsEvent('heartbeat', 'MESSAGE', connectionId, connectedAt, workspaceId, userId, { action: 'heartbeat', active: profile.active })),
        ),
      );
      heartbeats++;
      if (handlerMeter.writeUnits > before) heartbeatWrites++;
    }
    if (t % sweepIntervalMs !== 0) continue;
    passes++;
    // A pass with nothing due reads nothing and writes nothing beyond the fixed per-shard queries
    // (priced once per deployment): skip running those, they would only take time.
    const stored = (await unmetered.store.getAgentWithSettings(workspaceId, userId)).agent;
    if (stored?.dueAt == null || stored.dueAt > clock.now()) continue;
    const report = await sweep(sweepPorts);
    transitions += report.transitions;
    sweptPasses++;
  }
  const hour = handlerMeter.snapshot();
  const sweepTotals = sweepMeter.snapshot();
  const posts = ports.gateway.posts;
  const events = ports.events.events;

  // Close the session so its cost can be spread over session length.
  handlerMeter.reset();
  ports.gateway.posts = 0;
  ports.events.events = 0;
  const disconnectMs = await timed(() => disconnect(wsEvent('$disconnect', 'DISCONNECT', connectionId, connectedAt, workspaceId, userId)));
  const session = {
    wru: sessionStart.wru + handlerMeter.writeUnits,
    rru: sessionStart.rru + handlerMeter.readUnits,
    // The authorizer (no table), $connect and $disconnect.
    invocations: 3,
    billedMs: connectMs + disconnectMs + 1,
    posts: sessionPosts + ports.gateway.posts,
    events: sessionEvents + ports.events.events,
  };
  handlerDb.client.destroy();
  sweepDb.client.destroy();
  unmeteredDb.client.destroy();

  const sorted = [...handlerTimes].sort((a, b) => a - b);
  const agentSweepRru = Math.max(0, sweepTotals.readUnits - sweptPasses * rruPerEmptyPass);
  const wruByTarget: Record<string, number> = { ...hour.byTarget };
  for (const [target, units] of Object.entries(sweepTotals.byTarget)) wruByTarget[target] = (wruByTarget[target] ?? 0) + units;
  return {
    ...profile,
    wru: hour.writeUnits + sweepTotals.writeUnits,
    rru: hour.readUnits + agentSweepRru,
    requests: hour.requests,
    wruByTarget: wruByTarget,
    heartbeats,
    heartbeatWrites,
    transitions,
    posts,
    events,
    invocations: heartbeats,
    billedMs: handlerTimes.reduce((sum, ms) => sum + Math.max(1, ms), 0),
    handlerMsP50: sorted[Math.floor(sorted.length / 2)] ?? 0,
    session,
    sweep: { passes, rruPerEmptyPass, agentRru: agentSweepRru, agentWru: sweepTotals.writeUnits },
    capacitySource:
      handlerMeter.unreported + sweepMeter.unreported > 0
        ? 'partly unreported'
        : `DynamoDB Local ConsumedCapacity (INDEXES); ${hour.readFloors + sweepTotals.readFloors} reads raised to DynamoDB's minimum of 1 unit per key or empty query (DynamoDB Local reports 0 for an empty Query and for a BatchGetItem key it did not find)`,
  };
}
