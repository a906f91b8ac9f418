/**
 * Delivery of committed changes, as the table's stream hands them over: each connection gets one
 * message with every change of the batch it subscribes to, and each change becomes a
 * `PresenceChanged` event. Handlers and the sweeper only write; this is the one place that posts
 * presence and publishes events.
 */
import type { Transition } from '#domain/agent.ts';
import * as decide from '#domain/decisions.ts';
import { inScope } from '#domain/scope.ts';
import { ConnectionGoneError, FanoutDispatchError } from '#app/errors.ts';
import { forEachLimited } from '#app/concurrency.ts';
import { presenceChanged, presenceMessage, tokenExpiredMessage } from '#app/messages.ts';
import { mutateAgent } from '#app/mutate.ts';
import type { AgentUnavailable, ChunkReport, ConnectionRecord, FanoutChunk, FanoutDispatcher, Ports } from '#app/ports.ts';

/** Workspaces of one batch delivered at once. */
const WORKSPACES_IN_FLIGHT = 4;
/**
 * Index Queries one batch may make (the workspace's followers, each user, each team) before it
 * reads the workspace's connections instead.
 */
export const AUDIENCE_QUERIES_AT_MOST = 8;
/** Disconnects of gone connections written at once (a mass disconnect must not run into the timeout). */
const GONE_IN_FLIGHT = 8;

/**
 * API Gateway answers 410 for a connection whose `$connect` has not returned yet, exactly as for
 * a gone one. Its record is stored during `$connect`, so a delivery can find it in that window:
 * a 410 for a connection younger than API Gateway's integration timeout (29 s) is not proof it
 * is gone. It is skipped, not forgotten: its client starts from a snapshot taken after the
 * upgrade, and if it never opened, its lease ends it.
 */
export const OPENING_WINDOW_MS = 30_000;

interface FanoutReport {
  posted: number;
  gone: number;
  failed: number;
  /** 410s from connections that may still be in `$connect`. */
  opening: number;
  /** Chunks handed to the dispatcher (0 when every post was made here). */
  dispatched: number;
}

export interface DeliveryOutcome {
  report: FanoutReport;
  /**
   * Changes whose delivery must be tried again (their workspace's connections could not be
   * listed, or their events not published). Nothing was posted for them, or every post is
   * repeated with the same versions, which clients drop.
   */
  retry: Transition[];
}

/**
 * Delivers a batch of committed changes, in the order given (the stream's order per user).
 * Per workspace: its audience is read once (from the subscriber index, or every connection for
 * a storm's batch); each connection that subscribes to at least one of the changes gets one
 * `presence` message carrying those changes, in order; up to
 * `fanoutChunkSize` connections are posted here with bounded concurrency, more are split into
 * chunks the dispatcher posts all at once. A post that fails never fails the others; a gone
 * connection is forgotten and, if it was its user's last, that user is disconnected (a write,
 * whose change the stream brings back here).
 */
export async function deliverChanges(ports: Ports, changes: Transition[]): Promise<DeliveryOutcome> {
  const report: FanoutReport = { posted: 0, gone: 0, failed: 0, opening: 0, dispatched: 0 };
  const retry: Transition[] = [];
  const byWorkspace = new Map<string, Transition[]>();
  for (const change of changes) {
    const list = byWorkspace.get(change.workspaceId) ?? [];
    list.push(change);
    byWorkspace.set(change.workspaceId, list);
  }
  await forEachLimited([...byWorkspace], WORKSPACES_IN_FLIGHT, async ([workspaceId, pending]) => {
    // The events go out while the posts are made, not after them.
    const published = publish(ports, pending);
    const delivered = deliverToWorkspace(ports, workspaceId, pending, report);
    const [eventsOut, postsOut] = await Promise.all([published, delivered]);
    if (!eventsOut || !postsOut) retry.push(...pending);
  });
  return { report, retry };
}

/** False when the workspace's connections could not be listed (nothing was posted). */
async function deliverToWorkspace(ports: Ports, workspaceId: string, changes: Transition[], report: FanoutReport): Promise<boolean> {
  let connections: ConnectionRecord[];
  try {
    // A quiet workspace's batch (a change or a few) reads only its audience from the subscriber
    // index: the changed users' own connections, their teams' subscribers and the workspace's
    // followers. A storm's batch names so many users and teams that one read of the workspace's
    // connections is cheaper and faster, and serves all of its changes at once.
    const users = [...new Set(changes.map((change) => change.userId))];
    const teams = [...new Set(changes.flatMap((change) => change.teams))];
    connections =
      1 + users.length + teams.length <= AUDIENCE_QUERIES_AT_MOST
        ? await ports.store.listAudience(workspaceId, users, teams)
        : await ports.store.listConnections(workspaceId);
  } catch (error) {
    ports.logger.error('delivery could not list connections; the batch is retried', { workspaceId, error });
    return false;
  }
  const now = ports.clock.now();
  // A connection outlives its token by nothing: it is closed and forgotten, and gets no change.
  const expired = connections.filter((connection) => connection.expiresAt !== undefined && now >= connection.expiresAt);
  if (expired.length > 0) {
    connections = connections.filter((connection) => !expired.includes(connection));
    await closeExpired(ports, workspaceId, expired);
  }
  const chunks = audiences(changes, connections).flatMap(({ messages, connections: members }) =>
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
  if (gone.length > 0) await forgetGone(ports, workspaceId, gone);
  return true;
}

/**
 * The connections grouped by the message they receive: each connection gets one message with,
 * in order, the changes its scope covers. Connections that receive none are left out.
 */
function audiences(changes: Transition[], connections: ConnectionRecord[]): Array<{ messages: unknown[]; connections: ConnectionRecord[] }> {
  const groups = new Map<string, { messages: unknown[]; connections: ConnectionRecord[] }>();
  for (const connection of connections) {
    const scope = connection.scope ?? null;
    const covered = changes.filter((change) => inScope(scope, connection.userId, change));
    if (covered.length === 0) continue;
    // The whole-workspace subscribers share one group; team subscribers one per set of teams.
    const key = covered.length === changes.length ? '*' : covered.map((change) => changes.indexOf(change)).join(',');
    let group = groups.get(key);
    if (!group) {
      group = { messages: [presenceMessage(covered)], connections: [] };
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
 * A chunk the dispatcher refused before anything ran comes back as 'refused', for the consumer to
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
      // included) still reaches the consumer, and what was not posted counts as failed.
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

/**
 * The AgentUnavailable events of a batch (the sweeper's writes committed them). False when
 * EventBridge did not take them: the batch is retried, so, like every event, at least once.
 */
export async function publishUnavailable(ports: Pick<Ports, 'events' | 'logger'>, notices: AgentUnavailable[]): Promise<boolean> {
  if (notices.length === 0) return true;
  try {
    await ports.events.publishUnavailable(notices);
    return true;
  } catch (error) {
    ports.logger.error('publishing AgentUnavailable failed; the batch is retried', { error, count: notices.length });
    return false;
  }
}

/** False when EventBridge did not take the events (the batch is retried; events are at least once). */
async function publish(ports: Ports, transitions: Transition[]): Promise<boolean> {
  try {
    await ports.events.publish(transitions.map(presenceChanged));
    return true;
  } catch (error) {
    ports.logger.error('publishing PresenceChanged failed; the batch is retried', { error, count: transitions.length });
    return false;
  }
}

/**
 * Closes connections whose token has ended (API Gateway may still hold them) and forgets them.
 * Each is told why first, as a message after its token's end is: the client reconnects with a
 * fresh token instead of taking the close for a failure.
 */
async function closeExpired(ports: Ports, workspaceId: string, expired: ConnectionRecord[]): Promise<void> {
  await forEachLimited(expired, ports.config.fanoutConcurrency, async (connection) => {
    try {
      await ports.gateway.post(connection.connectionId, tokenExpiredMessage());
      await ports.gateway.delete(connection.connectionId);
    } catch (error) {
      if (!(error instanceof ConnectionGoneError)) ports.logger.warn('could not close an expired connection', { connectionId: connection.connectionId, error });
    }
  });
  await forgetGone(ports, workspaceId, expired);
}

/**
 * Gone connections lose their items, and a user whose last connection it was is disconnected:
 * a write like any other, whose change the stream delivers in a later batch.
 */
async function forgetGone(ports: Ports, workspaceId: string, gone: ConnectionRecord[]): Promise<void> {
  try {
    await ports.store.deleteConnections(
      workspaceId,
      gone.map((connection) => connection.connectionId),
      gone,
    );
  } catch (error) {
    ports.logger.error('forgetting gone connections failed; their TTL will', { workspaceId, error });
  }
  await forEachLimited(gone, GONE_IN_FLIGHT, async (connection) => {
    // One user's failure must not stop the others' disconnects.
    try {
      await mutateAgent(ports, workspaceId, connection.userId, (stored, now, policy) =>
        stored ? decide.disconnect(stored, { closed: [connection.connectionId], now }, policy) : null,
      );
    } catch (error) {
      ports.logger.error('disconnecting a gone connection failed; its lease will expire it', { workspaceId, connectionId: connection.connectionId, error });
    }
  });
}
