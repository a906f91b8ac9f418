/**
 * What status history costs: write and read units per committed transition as the consumer
 * records it (history item and day rollup), and the items a 30-day report of 1,000 agents reads
 * per agent-day. Metered with DynamoDB Local's ConsumedCapacity (bench/lib.ts CapacityMeter).
 */
import { randomUUID } from 'node:crypto';
import type { Agent, Status, Transition } from '#domain/agent.ts';
import { dayStart } from '#domain/report.ts';
import { recordHistory } from '#app/history.ts';
import { statusReport } from '#app/report.ts';
import { benchPorts, CapacityMeter, meteredClient, newTable, round } from './lib.ts';

export interface HistoryResult {
  transitions: number;
  writeUnitsPerTransition: number;
  readUnitsPerTransition: number;
  report: { agents: number; days: number; transitionsPerAgentDay: number; itemsRead: number; itemsReadPerAgentDay: number; readUnits: number; ms: number };
}

/** A working day: online, away, online, offline, repeated for more transitions a day. */
const CYCLE: Status[] = ['online', 'away', 'online', 'offline'];

/** `perDay` transitions of each agent on each day, spread over eight working hours. */
function transitionsOf(workspaceId: string, userId: string, days: string[], perDay: number): Transition[] {
  const changes: Transition[] = [];
  let previous: Status = 'offline';
  let version = 0;
  for (const date of days) {
    const start = dayStart(date, 'UTC');
    for (let k = 0; k < perDay; k++) {
      const status: Status = CYCLE[k % CYCLE.length]!;
      version++;
      changes.push({ workspaceId, userId, name: userId, teams: ['team-0'], status, previous, reason: 'manual', at: start + (8 + (k * 8) / perDay) * 3_600_000, version });
      previous = status;
    }
  }
  return changes;
}

function daysFrom(first: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => new Date(Date.parse(`${first}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));
}

export async function historyScenario(dynamoEndpoint: string, options: { agents: number; days: number; perDay: number }): Promise<HistoryResult> {
  const meter = new CapacityMeter();
  const db = meteredClient(dynamoEndpoint, meter);
  try {
    const tableName = await newTable(db.client, 'history');
    const days = daysFrom('2026-10-01', options.days);
    const now = Date.parse(`${days.at(-1)}T23:59:59Z`) + 1000;
    const ports = benchPorts(db.doc, tableName, { now: () => now });
    const workspace = `history-${randomUUID().slice(0, 8)}`;

    // The agents, as their last transition left them (the report lists them and reads their view).
    const agents = Array.from({ length: options.agents }, (_, i) => `agent-${i}`);
    const all = new Map(agents.map((userId) => [userId, transitionsOf(workspace, userId, days, options.perDay)]));
    for (let start = 0; start < agents.length; start += 25) {
      await Promise.all(
        agents.slice(start, start + 25).map((userId) => {
          const last = all.get(userId)!.at(-1)!;
          const agent: Agent = {
            workspaceId: workspace, userId, name: userId, teams: ['team-0'], chosen: 'online', awayReason: null, by: null, unavailableSince: null, unavailableNotified: false, status: last.status, reason: last.reason,
            since: last.at, lastActiveAt: last.at, connections: {}, leaseUntil: 0, graceUntil: null, loggedOut: false, version: 0,
          };
          return ports.store.saveAgent(agent, null, now);
        }),
      );
    }

    // Every transition, recorded as the consumer does: batches of up to 100 changes of 25 agents, in version order per agent.
    let transitions = 0;
    meter.reset();
    for (let start = 0; start < agents.length; start += 25) {
      const batch = agents.slice(start, start + 25).flatMap((userId) => all.get(userId)!);
      for (let offset = 0; offset < batch.length; offset += 100) {
        await recordHistory(ports, batch.slice(offset, offset + 100));
      }
      transitions += batch.length;
    }
    const recorded = meter.snapshot();

    meter.reset();
    const started = performance.now();
    const report = await statusReport(ports, { workspaceId: workspace, userId: 'payroll', name: 'payroll', teams: [], role: 'service' }, workspace, {
      from: days[0]!,
      to: days.at(-1)!,
    });
    const ms = Math.round(performance.now() - started);
    const read = meter.snapshot();
    // Only the report's own reads of rollups count per agent-day; listing the agents and the settings are per report.
    const rollupItems = read.byOperation.QueryCommand?.itemsRead ?? read.itemsRead;
    const agentDays = options.agents * options.days;
    if (report.days.length !== agentDays) throw new Error(`the report has ${report.days.length} rows, not ${agentDays}`);
    return {
      transitions,
      writeUnitsPerTransition: round(recorded.writeUnits / transitions, 2),
      readUnitsPerTransition: round(recorded.readUnits / transitions, 2),
      report: {
        agents: options.agents,
        days: options.days,
        transitionsPerAgentDay: options.perDay,
        itemsRead: read.itemsRead,
        itemsReadPerAgentDay: round(rollupItems / agentDays, 3),
        readUnits: round(read.readUnits, 1),
        ms,
      },
    };
  } finally {
    db.client.destroy();
  }
}

export function historyTable(result: HistoryResult): string {
  const r = result.report;
  return [
    '| status history | measured | target | |',
    '| --- | --- | --- | --- |',
    `| recording a committed transition (history item and day rollup), ${result.transitions} transitions | ${result.writeUnitsPerTransition} write units, ${result.readUnitsPerTransition} read units per transition | <= 3 write units | ${result.writeUnitsPerTransition <= 3 ? 'met' : '**missed**'} |`,
    `| a ${r.days}-day report of ${r.agents} agents (${r.transitionsPerAgentDay} transitions an agent-day) | ${r.itemsReadPerAgentDay} rollup items read per agent-day (${r.itemsRead} items, ${r.readUnits} read units in all, agents and settings included), ${r.ms} ms | <= 2 items per agent-day | ${r.itemsReadPerAgentDay <= 2 ? 'met' : '**missed**'} |`,
  ].join('\n');
}
