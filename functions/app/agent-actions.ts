/**
 * What an agent's connections do to their presence: connect, disconnect, heartbeat, set status,
 * log out (and an admin's sign-out, which is the same logout). Snapshots: snapshots.ts.
 */
import type { Agent, ChosenStatus, Decision, Identity, Policy, Transition } from '#domain/agent.ts';
import * as decide from '#domain/decisions.ts';
import { liveConnections } from '#domain/agent.ts';
import { normalizeScope } from '#domain/scope.ts';
import { ConnectionGoneError, InvalidMessageError, TooManyConnectionsError } from '#app/errors.ts';
import type { LoggedOutMessage } from '#app/messages.ts';
import { type Mutation, mutateAgent } from '#app/mutate.ts';
import { policyFrom } from '#app/policy.ts';
import type { Ports } from '#app/ports.ts';
import type { Principal } from '#app/principal.ts';

export interface ConnectionContext {
  principal: Principal;
  connectionId: string;
  /** When API Gateway accepted the connection (epoch ms). */
  connectedAt: number;
}

function identityOf(principal: Principal): Identity {
  return { workspaceId: principal.workspaceId, userId: principal.userId, name: principal.name, teams: principal.teams };
}

/** What a use case committed; the table's stream delivers it (app/fanout.ts). */
function committed(mutation: Mutation): Transition[] {
  return mutation.written && mutation.decision ? mutation.decision.transitions : [];
}

/** A message on a connection the agent had given up on brings its connection item back too. */
async function restoreConnectionItem(ports: Ports, context: ConnectionContext, mutation: Mutation): Promise<void> {
  const knownBefore = mutation.stored !== undefined && context.connectionId in mutation.stored.connections;
  const knownNow = mutation.decision !== null && context.connectionId in mutation.decision.agent.connections;
  if (mutation.written && knownNow && !knownBefore) {
    // Only if it is gone: an item kept past the lease still holds the connection's scope.
    await ports.store.putConnection(
      context.principal.workspaceId,
      {
        connectionId: context.connectionId,
        userId: context.principal.userId,
        connectedAt: context.connectedAt,
        ...(context.principal.expiresAt !== undefined ? { expiresAt: context.principal.expiresAt } : {}),
      },
      { onlyIfAbsent: true },
    );
  }
}

/** The cap bounds what one token can make the service do, and the agent item's size. */
function assertUnderCap(ports: Ports, stored: Agent | undefined, now: number): void {
  const max = ports.config.maxConnectionsPerUser;
  if (liveConnections(stored, now) >= max) {
    throw new TooManyConnectionsError(`this user already has ${max} open connections; close one first`);
  }
}

/**
 * A new connection: its item (following `teams`, or the whole workspace), the user's team
 * memberships and the agent's `connect` decision.
 */
export async function connect(ports: Ports, context: ConnectionContext, teams: readonly string[] | null = null): Promise<Transition[]> {
  const { principal, connectionId, connectedAt } = context;
  const scope = normalizeScope(teams);
  const workspaceId = principal.workspaceId;
  // Refused at the cap before anything is written (checked again at the write, for a race).
  const { agent: current, settings } = await ports.store.getAgentWithSettings(workspaceId, principal.userId);
  assertUnderCap(ports, current, ports.clock.now());
  // Team snapshots find members through these items, so they are written before the agent (a
  // team's snapshot filters out members who left it, never misses one who joined). Teams come
  // from the token, which only $connect sees change.
  await ports.store.putMemberships(workspaceId, principal.userId, principal.teams, ports.clock.now());
  // The item first, so the new connection also receives its own user's `connect` transition.
  await ports.store.putConnection(workspaceId, {
    connectionId,
    userId: principal.userId,
    connectedAt,
    ...(scope !== null ? { scope: [...scope] } : {}),
    ...(principal.expiresAt !== undefined ? { expiresAt: principal.expiresAt } : {}),
  });
  let mutation: Mutation;
  try {
    mutation = await mutateAgent(
      ports,
      workspaceId,
      principal.userId,
      (stored, now, policy) => {
        assertUnderCap(ports, stored, now);
        return decide.connect(stored, { identity: identityOf(principal), connectionId, connectedAt, now }, policy);
      },
      current ? { agent: current, policy: policyFrom(ports.config, settings) } : undefined,
    );
  } catch (error) {
    // Nothing was written: the connection is refused, so its item goes too.
    await ports.store.deleteConnections(workspaceId, [connectionId]).catch((deleteError: unknown) => {
      ports.logger.warn('could not delete the item of a refused connection; its TTL will', { workspaceId, connectionId, error: deleteError });
    });
    throw error;
  }
  await forgetLeftTeams(ports, principal, mutation);
  return committed(mutation);
}

/** Membership items of teams the user is no longer in; one left behind is filtered out on read. */
async function forgetLeftTeams(ports: Ports, principal: Principal, mutation: Mutation): Promise<void> {
  const left = (mutation.stored?.teams ?? []).filter((team) => !principal.teams.includes(team));
  if (!mutation.written || left.length === 0) return;
  await ports.store.deleteMemberships(principal.workspaceId, principal.userId, left).catch((error: unknown) => {
    ports.logger.warn('could not delete membership items of left teams', { workspaceId: principal.workspaceId, left, error });
  });
}

/**
 * The connection closed. Its item goes first; then the agent's other connections whose items are
 * gone too (tabs closing at the same moment) are taken in the same write, so a browser closing
 * many tabs makes one write that wins, not many that race each other out of their retries.
 */
export async function disconnect(ports: Ports, context: ConnectionContext): Promise<Transition[]> {
  const { principal, connectionId } = context;
  const workspaceId = principal.workspaceId;
  await ports.store.deleteConnections(workspaceId, [connectionId]);
  const { agent, settings } = await ports.store.getAgentWithSettings(workspaceId, principal.userId);
  if (!agent) return [];
  const others = Object.keys(agent.connections).filter((id) => id !== connectionId);
  const open = others.length > 0 ? await ports.store.existingConnections(workspaceId, others) : new Set<string>();
  const closed = [connectionId, ...others.filter((id) => !open.has(id))];
  const mutation = await mutateAgent(
    ports,
    workspaceId,
    principal.userId,
    (stored, now, policy) => (stored ? decide.disconnect(stored, { closed, now }, policy) : null),
    { agent, policy: policyFrom(ports.config, settings) },
  );
  return committed(mutation);
}

export async function heartbeat(ports: Ports, context: ConnectionContext, active: boolean): Promise<Transition[]> {
  const { principal, connectionId, connectedAt } = context;
  const mutation = await mutateAgent(ports, principal.workspaceId, principal.userId, (stored, now, policy) =>
    decide.heartbeat(stored, { identity: identityOf(principal), connectionId, connectedAt, active, now }, policy),
  );
  await restoreConnectionItem(ports, context, mutation);
  return committed(mutation);
}

/**
 * An away reason must be one of the workspace's (read with the agent, so a reason removed since
 * is refused), and only with away.
 */
export function assertAwayReason(chosen: ChosenStatus, awayReason: string | null, policy: Policy): void {
  if (awayReason === null) return;
  if (chosen !== 'away') throw new InvalidMessageError('awayReason goes only with status away');
  if (!(policy.awayReasons ?? []).includes(awayReason)) {
    throw new InvalidMessageError(`awayReason ${JSON.stringify(awayReason)} is not one of this workspace's away reasons`);
  }
}

export async function setStatus(ports: Ports, context: ConnectionContext, chosen: ChosenStatus, awayReason: string | null = null): Promise<Transition[]> {
  const { principal, connectionId, connectedAt } = context;
  const mutation = await mutateAgent(ports, principal.workspaceId, principal.userId, (stored, now, policy) => {
    assertAwayReason(chosen, awayReason, policy);
    return decide.setStatus(stored, { identity: identityOf(principal), connectionId, connectedAt, chosen, awayReason, now }, policy);
  });
  await restoreConnectionItem(ports, context, mutation);
  return committed(mutation);
}

/** Offline everywhere now: every connection of the user gets `loggedOut` and is closed. */
export async function logout(ports: Ports, context: ConnectionContext): Promise<Transition[]> {
  const { principal } = context;
  return signOut(ports, principal.workspaceId, principal.userId, { connectionId: context.connectionId, by: null });
}

/**
 * Signs a user out everywhere: offline with reason `logout` (the choice kept), and every open
 * connection (plus `connectionId`, the one asking, if any) gets `loggedOut` and is closed. `by`:
 * the admin who did it, or null for the user themself.
 */
export async function signOut(
  ports: Ports,
  workspaceId: string,
  userId: string,
  options: { connectionId?: string | undefined; by: string | null },
): Promise<Transition[]> {
  const mutation = await mutateAgent(ports, workspaceId, userId, (stored, now, policy) =>
    stored ? decide.logout(stored, { by: options.by, now }, policy) : null,
  );
  // Even an agent we never stored (or already logged out) has this connection to close.
  const decision: Decision | null = mutation.decision;
  // Every open connection of the user, including any the agent state had already given up on.
  const listed = await ports.store.listUserConnections(workspaceId, userId).catch((error: unknown) => {
    ports.logger.warn('logout could not list connections', { workspaceId, error });
    return [];
  });
  const asking = options.connectionId !== undefined ? [options.connectionId] : [];
  const closing = new Set([...asking, ...(decision?.droppedConnections ?? []), ...listed.map((c) => c.connectionId)]);
  const message: LoggedOutMessage = { type: 'loggedOut', at: ports.clock.now(), ...(options.by !== null ? { by: options.by } : {}) };
  await Promise.all(
    [...closing].map(async (connectionId) => {
      try {
        await ports.gateway.post(connectionId, message);
        await ports.gateway.delete(connectionId);
      } catch (error) {
        if (!(error instanceof ConnectionGoneError)) {
          ports.logger.warn('closing a logged-out connection failed', { connectionId, error });
        }
      }
    }),
  );
  await ports.store.deleteConnections(workspaceId, [...closing], listed);
  return committed(mutation);
}
