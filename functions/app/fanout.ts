/** After a transition: push it to the connections subscribed to it and publish the domain event. */
import { disconnect as disconnectRule, type Transition } from '#domain/presence.ts';
import { inScope } from '#domain/scope.ts';
import { ConnectionGoneError, FanoutDispatchError } from '#app/errors.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { presenceChanged, presenceMessage } from '#app/messages.ts';
import { mutateAgent } from '#app/mutate.ts';
import type { ChunkReport, ConnectionRecord, FanoutChunk, FanoutDispatcher, Ports } from '#app/ports.ts';

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
  /** Chunks handed to the dispatcher (0 when every post was made here). */
  dispatched: number;
}

/**
 * Sends each transition, in order, to every connection subscribed to it: the user's own, those of
 * the whole workspace, and those following one of the user's teams (domain/scope.ts).
 * Up to `fanoutChunkSize` connections are posted here, with bounded concurrency; a larger fan-out
 * is split into chunks that the dispatcher posts all at once (one Lambda invocation each), because
 * a single function's CPU caps how fast it can sign and send posts. A post that fails never fails
 * the others or the transition; a gone connection is forgotten, and if it was its user's last,
 * that user is disconnected too.
 */
export async function deliver(
  ports: Ports,
  workspaceId: string,
  transitions: Transition[],
  options: { opening?: string } = {},
): Promise<FanoutReport> {
  const report: FanoutReport = { posted: 0, gone: 0, failed: 0, opening: 0, dispatched: 0 };
  let pending = transitions;
  for (let round = 0; pending.length > 0 && round < MAX_ROUNDS; round++) {
    // The events go out while the posts are made, not after them: a large fan-out waits for its
    // chunks, and a sender cut off meanwhile must not lose the events of committed transitions.
    const published = publish(ports, pending);
    let connections: ConnectionRecord[];
    try {
      connections = await ports.store.listConnections(workspaceId);
    } catch (error) {
      // The transition is committed: a failed fan-out is logged, never turned into a failed request.
      ports.logger.error('fan-out could not list connections', { workspaceId, error });
      await published;
      return report;
    }
    // API Gateway refuses posts to a connection until its $connect returns (410): skip it rather
    // than mistake it for gone. It learns the state from its getPresence snapshot.
    connections = connections.filter((connection) => connection.connectionId !== options.opening);
    const now = ports.clock.now();
    const chunks = audiences(pending, connections).flatMap(({ messages, connections: members }) =>
      split(members, ports.config.fanoutChunkSize).map((part): FanoutChunk => ({ messages, connections: part, now })),
    );
    const targets = chunks.reduce((sum, chunk) => sum + chunk.connections.length, 0);
    const dispatcher = targets > ports.config.fanoutChunkSize ? ports.fanout : undefined;
    const results: ChunkReport[] = [];
    if (dispatcher) {
      report.dispatched += chunks.length;
      // A refused chunk is posted here as soon as it is refused, one after another, so this
      // function keeps to fanoutConcurrency and need not wait for the slowest dispatch.
      let posting: Promise<unknown> = Promise.resolve();
      await Promise.all(
        chunks.map(async (chunk) => {
          const outcome = await dispatch(ports, dispatcher, chunk);
          if (outcome !== 'refused') return results.push(outcome);
          const mine = posting.then(async () => results.push(await postChunk(ports, chunk)));
          posting = mine.catch(() => undefined);
          await mine;
        }),
      );
    } else {
      // One audience after another, so at most fanoutConcurrency posts are in flight.
      for (const chunk of chunks) results.push(await postChunk(ports, chunk));
    }
    const byId = new Map(connections.map((connection) => [connection.connectionId, connection]));
    const gone: ConnectionRecord[] = [];
    for (const result of results) {
      report.posted += result.posted;
      report.failed += result.failed;
      report.opening += result.opening;
      report.gone += result.gone.length;
      for (const id of result.gone) {
        const connection = byId.get(id);
        if (connection) gone.push(connection);
      }
    }
    await published;
    const lastRound = round === MAX_ROUNDS - 1;
    try {
      pending = gone.length > 0 ? await forgetGone(ports, workspaceId, gone, lastRound) : [];
    } catch (error) {
      ports.logger.error('forgetting gone connections failed; leases will expire them', { workspaceId, error });
      pending = [];
    }
  }
  return report;
}

/**
 * The connections grouped by the messages they receive: each connection gets, in order, the
 * transitions its scope covers. Connections that receive none are left out.
 */
function audiences(transitions: Transition[], connections: ConnectionRecord[]): Array<{ messages: unknown[]; connections: ConnectionRecord[] }> {
  const groups = new Map<string, { messages: unknown[]; connections: ConnectionRecord[] }>();
  for (const connection of connections) {
    const scope = connection.scope ?? null;
    const covered = transitions.filter((transition) => inScope(scope, connection.userId, transition));
    if (covered.length === 0) continue;
    // Transitions are few per round (usually one user's); the indices name the group.
    const key = covered.map((transition) => transitions.indexOf(transition)).join(',');
    let group = groups.get(key);
    if (!group) {
      group = { messages: covered.map(presenceMessage), connections: [] };
      groups.set(key, group);
    }
    // A chunk names its connections only; the scope stays here.
    group.connections.push({ connectionId: connection.connectionId, userId: connection.userId, connectedAt: connection.connectedAt });
  }
  return [...groups.values()];
}

function split<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * A chunk the dispatcher refused before anything ran comes back as 'refused', for the sender to
 * post, so nothing is lost. One that started and failed is not reposted (some of its posts may
 * have been made); its connections are counted as failed and logged.
 */
async function dispatch(ports: Ports, dispatcher: FanoutDispatcher, chunk: FanoutChunk): Promise<ChunkReport | 'refused'> {
  try {
    return await dispatcher.post(chunk);
  } catch (error) {
    if (error instanceof FanoutDispatchError && !error.maybePosted) {
      ports.logger.warn('fan-out chunk not dispatched; posting it here', { connections: chunk.connections.length, error });
      return 'refused';
    }
    ports.logger.error('fan-out chunk failed', { connections: chunk.connections.length, error });
    return { posted: 0, failed: chunk.connections.length, opening: 0, gone: [] };
  }
}

/**
 * Posts the messages, in order, to the chunk's connections, at most `fanoutConcurrency` at once.
 * The fan-out function runs exactly this for its chunk. A connection that answers 410 gets no
 * later message of the chunk; it is reported gone unless it may still be opening.
 */
export async function postChunk(
  ports: Pick<Ports, 'gateway' | 'logger'> & { config: Pick<Ports['config'], 'fanoutConcurrency'> },
  chunk: FanoutChunk,
  /** True once there is no time left to start a post (the function's timeout is near). */
  outOfTime: () => boolean = () => false,
): Promise<ChunkReport> {
  const report: ChunkReport = { posted: 0, failed: 0, opening: 0, gone: [] };
  const refused = new Set<string>();
  for (const message of chunk.messages) {
    const targets = chunk.connections.filter((connection) => !refused.has(connection.connectionId));
    await forEachLimited(targets, ports.config.fanoutConcurrency, async (connection) => {
      // Stop starting posts rather than be cut off by the timeout: the report (gone connections
      // included) still reaches the sender, and what was not posted counts as failed.
      if (outOfTime()) {
        report.failed++;
        return;
      }
      try {
        await ports.gateway.post(connection.connectionId, message);
        report.posted++;
      } catch (error) {
        if (error instanceof ConnectionGoneError && chunk.now - connection.connectedAt < OPENING_WINDOW_MS) {
          report.opening++;
        } else if (error instanceof ConnectionGoneError) {
          refused.add(connection.connectionId);
          report.gone.push(connection.connectionId);
        } else {
          report.failed++;
          ports.logger.warn('fan-out post failed', { connectionId: connection.connectionId, error });
        }
      }
    });
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
    // One user's failure must not drop the disconnects already committed for the others.
    try {
      const { decision, written } = await mutateAgent(ports, workspaceId, connection.userId, (stored, now, policy) =>
        stored ? disconnectRule(stored, connection.connectionId, now, policy) : null,
      );
      if (written && decision) transitions.push(...decision.transitions);
    } catch (error) {
      ports.logger.error('disconnecting a gone connection failed; its lease will expire it', { workspaceId, connectionId: connection.connectionId, error });
    }
  }
  return transitions;
}
