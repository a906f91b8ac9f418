/** WebSocket use cases: connect, disconnect, heartbeat, set status, snapshot, logout. */
import * as rules from '#domain/presence.ts';
import type { ChosenStatus, Decision, Transition } from '#domain/presence.ts';
import { ConnectionGoneError } from '#app/errors.ts';
import { deliver } from '#app/fanout.ts';
import type { LoggedOutMessage, SnapshotMessage } from '#app/messages.ts';
import { type Mutation, mutateAgent } from '#app/mutate.ts';
import { workspacePolicy } from '#app/policy.ts';
import type { Ports } from '#app/ports.ts';
import type { Principal } from '#app/principal.ts';

export interface ConnectionContext {
  principal: Principal;
  connectionId: string;
  /** When API Gateway accepted the connection (epoch ms). */
  connectedAt: number;
}

function identityOf(principal: Principal): rules.Identity {
  return { workspaceId: principal.workspaceId, userId: principal.userId, name: principal.name, teams: principal.teams };
}

async function settle(ports: Ports, workspaceId: string, mutation: Mutation, opening?: string): Promise<Transition[]> {
  const decision = mutation.decision;
  if (!mutation.written || !decision) return [];
  // Connections whose lease passed keep their items: the tab may still be there (a logout must
  // reach it, and its next message revives it). A dead one costs one post that answers 410,
  // which removes it; the item's TTL is the backstop.
  await deliver(ports, workspaceId, decision.transitions, opening ? { opening } : {});
  return decision.transitions;
}

/** A message on a connection the agent had given up on brings its connection item back too. */
async function restoreConnectionItem(ports: Ports, context: ConnectionContext, mutation: Mutation): Promise<void> {
  const knownBefore = mutation.stored !== undefined && context.connectionId in mutation.stored.connections;
  const knownNow = mutation.decision !== null && context.connectionId in mutation.decision.agent.connections;
  if (mutation.written && knownNow && !knownBefore) {
    await ports.store.putConnection(context.principal.workspaceId, {
      connectionId: context.connectionId,
      userId: context.principal.userId,
      connectedAt: context.connectedAt,
    });
  }
}

export async function connect(ports: Ports, context: ConnectionContext): Promise<Transition[]> {
  const { principal, connectionId, connectedAt } = context;
  // The item first, so the new connection also receives its own user's `connect` transition.
  await ports.store.putConnection(principal.workspaceId, { connectionId, userId: principal.userId, connectedAt });
  let mutation: Mutation;
  try {
    mutation = await mutateAgent(ports, principal.workspaceId, principal.userId, (stored, now, policy) =>
      rules.connect(stored, identityOf(principal), connectionId, connectedAt, now, policy),
    );
  } catch (error) {
    // Nothing was written: the connection is refused, so its item goes too.
    await ports.store.deleteConnections(principal.workspaceId, [connectionId]).catch(() => undefined);
    throw error;
  }
  return settle(ports, principal.workspaceId, mutation, connectionId);
}

export async function disconnect(ports: Ports, context: ConnectionContext): Promise<Transition[]> {
  const { principal, connectionId } = context;
  await ports.store.deleteConnections(principal.workspaceId, [connectionId]);
  const mutation = await mutateAgent(ports, principal.workspaceId, principal.userId, (stored, now, policy) =>
    stored ? rules.disconnect(stored, connectionId, now, policy) : null,
  );
  return settle(ports, principal.workspaceId, mutation);
}

export async function heartbeat(ports: Ports, context: ConnectionContext, active: boolean): Promise<Transition[]> {
  const { principal, connectionId, connectedAt } = context;
  const mutation = await mutateAgent(ports, principal.workspaceId, principal.userId, (stored, now, policy) =>
    rules.heartbeat(stored, identityOf(principal), connectionId, connectedAt, active, now, policy),
  );
  await restoreConnectionItem(ports, context, mutation);
  return settle(ports, principal.workspaceId, mutation);
}

export async function setStatus(ports: Ports, context: ConnectionContext, chosen: ChosenStatus): Promise<Transition[]> {
  const { principal, connectionId, connectedAt } = context;
  const mutation = await mutateAgent(ports, principal.workspaceId, principal.userId, (stored, now, policy) =>
    rules.setStatus(stored, identityOf(principal), connectionId, connectedAt, chosen, now, policy),
  );
  await restoreConnectionItem(ports, context, mutation);
  return settle(ports, principal.workspaceId, mutation);
}

/** The whole workspace as readers see it now, offline users included; sent to the asking connection. */
export async function snapshot(ports: Pick<Ports, 'store' | 'clock' | 'config'>, workspaceId: string): Promise<SnapshotMessage> {
  const [agents, policy] = await Promise.all([ports.store.listAgents(workspaceId), workspacePolicy(ports, workspaceId)]);
  const now = ports.clock.now();
  return {
    type: 'snapshot',
    at: now,
    users: agents.map((agent) => rules.view(agent, now, policy)).sort((a, b) => a.userId.localeCompare(b.userId)),
  };
}

export async function getPresence(ports: Ports, context: ConnectionContext): Promise<SnapshotMessage> {
  const message = await snapshot(ports, context.principal.workspaceId);
  await ports.gateway.post(context.connectionId, message);
  return message;
}

/** Offline everywhere now: every connection of the user gets `loggedOut` and is closed. */
export async function logout(ports: Ports, context: ConnectionContext): Promise<Transition[]> {
  const { principal } = context;
  const workspaceId = principal.workspaceId;
  const mutation = await mutateAgent(ports, workspaceId, principal.userId, (stored, now, policy) =>
    stored ? rules.logout(stored, now, policy) : null,
  );
  // Even an agent we never stored (or already logged out) has this connection to close.
  const decision: Decision | null = mutation.decision;
  // Every open connection of the user, including any the agent state had already given up on.
  const listed = await ports.store.listConnections(workspaceId).catch((error: unknown) => {
    ports.logger.warn('logout could not list connections', { workspaceId, error });
    return [];
  });
  const closing = new Set([
    context.connectionId,
    ...(decision?.droppedConnections ?? []),
    ...listed.filter((connection) => connection.userId === principal.userId).map((c) => c.connectionId),
  ]);
  if (mutation.written && decision) await deliver(ports, workspaceId, decision.transitions);
  const message: LoggedOutMessage = { type: 'loggedOut', at: ports.clock.now() };
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
  await ports.store.deleteConnections(workspaceId, [...closing]);
  return mutation.written && decision ? decision.transitions : [];
}
