/** Snapshots: the users of a connection's scope as readers see them now, sent in parts (getPresence, subscribe). */
import { randomUUID } from 'node:crypto';
import { type Agent, type PresenceView, view } from '#domain/agent.ts';
import { inScope, normalizeScope, type Scope } from '#domain/scope.ts';
import { splitIntoParts } from '#domain/snapshot-parts.ts';
import type { ConnectionContext } from '#app/agent-actions.ts';
import type { SnapshotMessage } from '#app/messages.ts';
import { workspacePolicy } from '#app/policy.ts';
import type { Ports } from '#app/ports.ts';

export interface Snapshot {
  at: number;
  scope: Scope;
  users: Array<PresenceView & { version: number }>;
}

/**
 * The users of a scope as readers see them now, offline ones included, in userId order: the whole
 * workspace (scope null), or the members of the scope's teams and the viewer. A team scope reads
 * its teams' membership items and those agents, never the whole workspace.
 */
export async function snapshot(
  ports: Pick<Ports, 'store' | 'clock' | 'config'>,
  workspaceId: string,
  scope: Scope = null,
  viewerUserId?: string,
): Promise<Snapshot> {
  const [agents, policy] = await Promise.all([
    scope === null ? ports.store.listAgents(workspaceId) : agentsInScope(ports, workspaceId, scope, viewerUserId),
    workspacePolicy(ports, workspaceId),
  ]);
  const now = ports.clock.now();
  return {
    at: now,
    scope,
    users: agents.map((agent) => ({ ...view(agent, now, policy), version: agent.version })).sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0)),
  };
}

async function agentsInScope(
  ports: Pick<Ports, 'store'>,
  workspaceId: string,
  scope: readonly string[],
  viewerUserId: string | undefined,
): Promise<Agent[]> {
  const members = await Promise.all(scope.map((team) => ports.store.listTeamMembers(workspaceId, team)));
  const userIds = new Set(members.flat());
  if (viewerUserId !== undefined) userIds.add(viewerUserId);
  const agents = await ports.store.getAgents(workspaceId, [...userIds]);
  // A membership item outlives a team the user left until their next connect cleans it up.
  return agents.filter((agent) => inScope(scope, viewerUserId ?? '', agent));
}

/** The snapshot as the messages that carry it, each part well under API Gateway's 128 KB. */
function snapshotMessages(snap: Snapshot, id: string = randomUUID()): SnapshotMessage[] {
  const parts = splitIntoParts(snap.users);
  return parts.map((users, index) => ({
    type: 'snapshot',
    id,
    part: index + 1,
    parts: parts.length,
    at: snap.at,
    scope: snap.scope === null ? null : [...snap.scope],
    users,
  }));
}

/** Posts the parts in order; a connection that went away stops it. */
async function sendSnapshot(ports: Ports, connectionId: string, snap: Snapshot): Promise<SnapshotMessage[]> {
  const messages = snapshotMessages(snap);
  for (const message of messages) await ports.gateway.post(connectionId, message);
  return messages;
}

/** A snapshot of what this connection subscribes to (the whole workspace unless it subscribed to teams). */
export async function getPresence(ports: Ports, context: ConnectionContext): Promise<SnapshotMessage[]> {
  const { principal, connectionId } = context;
  const connection = await ports.store.getConnection(principal.workspaceId, connectionId);
  const scope = normalizeScope(connection?.scope ?? null);
  return sendSnapshot(ports, connectionId, await snapshot(ports, principal.workspaceId, scope, principal.userId));
}

/**
 * From now on this connection receives the changes of users in these teams and its own user's
 * (null: the whole workspace); replies with a snapshot of exactly that scope. The scope is kept
 * on the connection's item, so every later fan-out honours it.
 */
export async function subscribe(ports: Ports, context: ConnectionContext, teams: string[] | null): Promise<SnapshotMessage[]> {
  const { principal, connectionId, connectedAt } = context;
  const scope = normalizeScope(teams);
  await ports.store.setScope(principal.workspaceId, {
    connectionId,
    userId: principal.userId,
    connectedAt,
    scope: scope === null ? null : [...scope],
    ...(principal.expiresAt !== undefined ? { expiresAt: principal.expiresAt } : {}),
  });
  return sendSnapshot(ports, connectionId, await snapshot(ports, principal.workspaceId, scope, principal.userId));
}
