/**
 * The agent item (adapters/dynamodb/agent-item.ts) without DynamoDB: an agent written and read
 * back is the same agent at the version after its changes; the sparse index keys are there only
 * while they mean something; the changes and notices the write commits keep only their own fields.
 */
import { describe, expect, it } from 'vitest';
import type { Agent, Transition, UnavailableNotice } from '#domain/agent.ts';
import { toAgent, toAgentItem } from '#adapters/dynamodb/agent-item.ts';
import { deadlineShard } from '#adapters/keys.ts';

const NOW = Date.UTC(2030, 0, 1, 9, 0, 0);
const OPTIONS = { agentRetentionMs: 90 * 86_400_000, deadlineShards: 16 };

/** Online with one connection, every optional field at its empty value. */
const plain: Agent = {
  workspaceId: 'acme',
  userId: 'alice',
  name: 'Alice',
  teams: ['sales'],
  chosen: 'online',
  awayReason: null,
  status: 'online',
  reason: 'connect',
  since: NOW - 60_000,
  lastActiveAt: NOW - 1_000,
  connections: { c1: NOW - 60_000 },
  leaseUntil: NOW + 90_000,
  graceUntil: null,
  loggedOut: false,
  by: null,
  unavailableSince: null,
  unavailableNotified: false,
  version: 4,
};

/** Away by an admin, in grace, with a notified unavailable period: every optional field set. */
const full: Agent = {
  ...plain,
  chosen: 'away',
  awayReason: 'lunch',
  status: 'away',
  reason: 'admin',
  by: 'boss',
  connections: {},
  graceUntil: NOW + 10_000,
  unavailableSince: NOW - 30_000,
  unavailableNotified: true,
};

const change = (fields: Partial<Transition> = {}): Transition => ({
  workspaceId: 'acme',
  userId: 'alice',
  name: 'Alice',
  teams: ['sales'],
  status: 'away',
  previous: 'online',
  reason: 'admin',
  at: NOW,
  version: 5,
  ...fields,
});

describe('agent item', () => {
  it.each<[string, Agent, number | null]>([
    ['with every optional field empty', plain, null],
    ['with every optional field set', full, NOW + 5_000],
  ])('reads back the agent written %s, at the version after its changes, with its deadline', (_, agent, dueAt) => {
    const item = toAgentItem(agent, dueAt, NOW, [change(), change({ version: 6, status: 'offline', previous: 'away' })], [], OPTIONS);
    expect(toAgent(item)).toEqual({ ...agent, version: 6, dueAt });
  });

  it('moves the version by one for a write without changes', () => {
    expect(toAgentItem(plain, null, NOW, [], [], OPTIONS).version).toBe(5);
  });

  it('writes no attribute for a field at its empty value', () => {
    const item = toAgentItem({ ...plain, status: 'offline', reason: null }, null, NOW, [], [], OPTIONS);
    for (const key of ['awayReason', 'reason', 'by', 'graceUntil', 'unavailableSince', 'unavailableNotified', 'changes', 'notices']) {
      expect(item).not.toHaveProperty(key);
    }
  });

  it('is in the status index only while online or away, and in the deadline index only with a deadline', () => {
    const offline = toAgentItem({ ...plain, status: 'offline' }, null, NOW, [], [], OPTIONS);
    for (const key of ['statusPk', 'statusSk', 'duePk', 'dueAt']) expect(offline).not.toHaveProperty(key);

    const due = toAgentItem(full, NOW + 5_000, NOW, [], [], OPTIONS);
    expect(due).toMatchObject({
      statusPk: 'WS#acme#STATUS#away',
      statusSk: 'alice',
      duePk: `DUE#${deadlineShard('acme', 'alice', OPTIONS.deadlineShards)}`,
      dueAt: NOW + 5_000,
    });
  });

  it('puts its deadline in one of the shards it is given', () => {
    const item = toAgentItem(plain, NOW, NOW, [], [], { ...OPTIONS, deadlineShards: 1 });
    expect(item.duePk).toBe('DUE#0');
  });

  it('lives the retention after this write (epoch seconds, rounded up)', () => {
    expect(toAgentItem(plain, null, NOW + 1, [], [], OPTIONS).ttl).toBe(Math.ceil((NOW + 1 + OPTIONS.agentRetentionMs) / 1000));
  });

  it('records the changes and notices it commits without who (the item holds it) or absent optional fields', () => {
    const notice: UnavailableNotice = { workspaceId: 'acme', userId: 'alice', status: 'away', since: NOW - 30_000, at: NOW };
    const item = toAgentItem(full, null, NOW, [change({ awayReason: 'lunch', by: 'boss' }), change({ version: 6, previousAwayReason: 'lunch' })], [notice], OPTIONS);
    expect(item.changes).toEqual([
      { status: 'away', previous: 'online', reason: 'admin', at: NOW, version: 5, awayReason: 'lunch', by: 'boss' },
      { status: 'away', previous: 'online', reason: 'admin', at: NOW, version: 6, previousAwayReason: 'lunch' },
    ]);
    expect(item.notices).toEqual([{ status: 'away', since: NOW - 30_000, at: NOW }]);
  });

  it('reads an item without teams or connections as none', () => {
    const { teams: _teams, connections: _connections, ...item } = toAgentItem(plain, null, NOW, [], [], OPTIONS);
    expect(toAgent(item)).toMatchObject({ teams: [], connections: {} });
  });
});
