/** After a transition: push it to every connection of the workspace and publish the domain event. */
import { disconnect as disconnectRule, type Transition } from '#domain/presence.ts';
import { ConnectionGoneError } from '#app/errors.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { presenceChanged, presenceMessage } from '#app/messages.ts';
import { mutateAgent } from '#app/mutate.ts';
import type { ConnectionRecord, Ports } from '#app/ports.ts';

/** Gone connections can take their user offline, which is fanned out again; this bounds the chain. */
const MAX_ROUNDS = 4;

/**
 * API Gateway answers 410 for a connection whose `$connect` has not returned yet, exactly as for
 * a gone one. Its record is stored during `$connect`, so another user's fan-out can find it in
 * that window: a 410 for a connection younger than API Gateway's integration timeout (29 s) is
 * not proof it is gone. It is skipped, not forgotten: its client starts from a getPresence
 * snapshot taken after the upgrade, and if it never opened, its lease ends it.
 */
export const OPENING_WINDOW_MS = 30_000;

export interface FanoutReport {
  posted: number;
  gone: number;
  failed: number;
  /** 410s from connections that may still be in `$connect`. */
  opening: number;
}

/**
 * Sends each transition, in order, to every connection of the workspace (the user's own included)
 * with bounded concurrency. A post that fails never fails the others or the transition; a gone
 * connection is forgotten, and if it was its user's last, that user is disconnected too.
 */
export async function deliver(
  ports: Ports,
  workspaceId: string,
  transitions: Transition[],
  options: { opening?: string } = {},
): Promise<FanoutReport> {
  const report: FanoutReport = { posted: 0, gone: 0, failed: 0, opening: 0 };
  let pending = transitions;
  for (let round = 0; pending.length > 0 && round < MAX_ROUNDS; round++) {
    let connections: ConnectionRecord[];
    try {
      connections = await ports.store.listConnections(workspaceId);
    } catch (error) {
      // The transition is committed: a failed fan-out is logged, never turned into a failed request.
      ports.logger.error('fan-out could not list connections', { workspaceId, error });
      await publish(ports, pending);
      return report;
    }
    // API Gateway refuses posts to a connection until its $connect returns (410): skip it rather
    // than mistake it for gone. It learns the state from its getPresence snapshot.
    connections = connections.filter((connection) => connection.connectionId !== options.opening);
    const gone = new Map<string, ConnectionRecord>();
    for (const transition of pending) {
      const message = presenceMessage(transition);
      const targets = connections.filter((connection) => !gone.has(connection.connectionId));
      await forEachLimited(targets, ports.config.fanoutConcurrency, async (connection) => {
        try {
          await ports.gateway.post(connection.connectionId, message);
          report.posted++;
        } catch (error) {
          if (error instanceof ConnectionGoneError && ports.clock.now() - connection.connectedAt < OPENING_WINDOW_MS) {
            report.opening++;
          } else if (error instanceof ConnectionGoneError) {
            gone.set(connection.connectionId, connection);
            report.gone++;
          } else {
            report.failed++;
            ports.logger.warn('fan-out post failed', { connectionId: connection.connectionId, error });
          }
        }
      });
    }
    await publish(ports, pending);
    const lastRound = round === MAX_ROUNDS - 1;
    try {
      pending = gone.size > 0 ? await forgetGone(ports, workspaceId, [...gone.values()], lastRound) : [];
    } catch (error) {
      ports.logger.error('forgetting gone connections failed; leases will expire them', { workspaceId, error });
      pending = [];
    }
  }
  return report;
}

async function publish(ports: Ports, transitions: Transition[]): Promise<void> {
  try {
    await ports.events.publish(transitions.map(presenceChanged));
  } catch (error) {
    // The transition is committed and pushed; a lost event is logged, never a failed request.
    ports.logger.error('publishing PresenceChanged failed', { error, count: transitions.length });
  }
}

async function forgetGone(
  ports: Ports,
  workspaceId: string,
  gone: ConnectionRecord[],
  itemsOnly: boolean,
): Promise<Transition[]> {
  await ports.store.deleteConnections(
    workspaceId,
    gone.map((connection) => connection.connectionId),
  );
  // With no round left to deliver in, leave the agents to their leases rather than publish unseen.
  if (itemsOnly) return [];
  const transitions: Transition[] = [];
  for (const connection of gone) {
    const { decision, written } = await mutateAgent(ports, workspaceId, connection.userId, (stored, now, policy) =>
      stored ? disconnectRule(stored, connection.connectionId, now, policy) : null,
    );
    if (written && decision) transitions.push(...decision.transitions);
  }
  return transitions;
}
