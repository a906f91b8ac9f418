/**
 * Delivery from the table's stream, end to end on DynamoDB Local: the real use cases write, the
 * real Streams API carries the records, the local reader hands them to the real consumer handler
 * (as the event source mapping does on AWS), and the recording gateway receives the posts.
 * No stand-in: each test takes its store out of the harness's immediate delivery.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PresenceMessage } from '#app/messages.ts';
import type { StreamBatchFailure } from '#local/stream/batch-retry.ts';
import type { DynamoDbStreamReader } from '#local/stream/reader.ts';
import { type Harness, uniqueWorkspace } from '#test/support/harness.ts';
import { startReader as startStreamReader, streamHarness } from '#test/support/stream.ts';
import { makeService, TestConnection } from '#test/support/service.ts';

const readers: DynamoDbStreamReader[] = [];
afterEach(async () => {
  await Promise.all(readers.splice(0).map((reader) => reader.stop()));
});

async function startReader(harness: Harness, options: Parameters<typeof startStreamReader>[1] = {}) {
  const reader = await startStreamReader(harness, options);
  readers.push(reader);
  return reader;
}

async function onStream(options: { maxAttempts?: number } = {}) {
  const harness = await streamHarness();
  const failures: StreamBatchFailure[] = [];
  let batches = 0;
  const reader = await startReader(harness, { ...options, failures, onBatch: () => batches++ });
  return { harness, service: makeService(harness), reader, failures, batches: () => batches, workspace: uniqueWorkspace() };
}

/** The presence messages one connection received, as sent (batches whole). */
function messages(harness: Harness, connectionId: string): PresenceMessage[] {
  return harness.gateway.received(connectionId, 'presence');
}

/** What a client shows after applying the messages with the protocol's rule: only a greater version is news. */
function shown(harness: Harness, connectionId: string): string[] {
  const held = new Map<string, number>();
  const seen: string[] = [];
  for (const change of harness.gateway.changes(connectionId)) {
    if ((held.get(change.userId) ?? 0) >= change.version) continue;
    held.set(change.userId, change.version);
    seen.push(`${change.userId}:${change.reason}:${change.status}@${change.version}`);
  }
  return seen;
}

describe('delivery from the stream', () => {
  it('the writers post nothing; the consumer delivers what they committed, with versions, and publishes one event per change', async () => {
    // Prepare: no reader yet, so only the writers run.
    const harness = await streamHarness();
    const service = makeService(harness);
    const workspace = uniqueWorkspace();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });

    // Act
    await bob.setStatus('away');
    const postedByWriters = harness.gateway.posts.length;
    const reader = await startReader(harness);
    await reader.drained();

    // Assess
    expect(postedByWriters).toBe(0);
    expect(shown(harness, alice.id)).toEqual(['alice:connect:online@1', 'bob:connect:online@1', 'bob:manual:away@2']);
    expect(harness.events.events.map((event) => `${event.userId}:${event.reason}`)).toEqual(['alice:connect', 'bob:connect', 'bob:manual']);
  });

  it('a batch posts each connection one message with every change it covers', async () => {
    const { harness, service, reader, workspace } = await onStream();
    const watcher = await TestConnection.open(service, { workspace, sub: 'watcher' });
    await reader.drained();
    harness.gateway.clear();
    // Five agents arrive before the reader polls again: their records come in one batch.
    await reader.stop();
    const arrivals = ['a1', 'a2', 'a3', 'a4', 'a5'];
    for (const sub of arrivals) await TestConnection.open(service, { workspace, sub });
    const next = await startReader(harness);
    await next.drained();

    // The new reader replays the stream from its start: versions make the replay harmless.
    const batched = messages(harness, watcher.id).filter((message) => message.changes.some((change) => arrivals.includes(change.userId)));
    expect(batched).toHaveLength(1);
    expect(batched[0]?.changes.map((change) => change.userId).filter((userId) => arrivals.includes(userId))).toEqual(arrivals);
    expect(shown(harness, watcher.id)).toEqual(['watcher', ...arrivals].map((sub) => `${sub}:connect:online@1`));
  });

  it('a failed batch is retried: nothing is lost, and nothing is shown twice', async () => {
    const { harness, service, reader, batches, workspace } = await onStream();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    await reader.drained();
    harness.gateway.clear();
    // EventBridge refuses the next publish once: the consumer reports the batch failed.
    const publish = harness.events.publish.bind(harness.events);
    let refusals = 1;
    harness.events.publish = async (events) => {
      if (refusals-- > 0) throw new Error('EventBridge is throttling');
      return publish(events);
    };
    const before = batches();

    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    await bob.setStatus('away');
    await reader.drained();

    expect(batches() - before).toBeGreaterThan(1);
    // The refused batch's posts were made and are made again: the versions make the second ones no news.
    expect(harness.gateway.changes(alice.id).filter((change) => change.userId === 'bob').length).toBeGreaterThan(2);
    expect(shown(harness, alice.id)).toEqual(['bob:connect:online@1', 'bob:manual:away@2']);
    // Every committed change was published (at least once), in order per user.
    const bobs = harness.events.events.filter((event) => event.userId === 'bob').map((event) => event.reason);
    expect([...new Set(bobs)]).toEqual(['connect', 'manual']);
  });

  it('a batch that keeps failing goes to the on-failure destination, and later changes still arrive', async () => {
    const { harness, service, reader, failures, workspace } = await onStream({ maxAttempts: 2 });
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    await reader.drained();
    const listAudience = harness.store.listAudience.bind(harness.store);
    const listConnections = harness.store.listConnections.bind(harness.store);
    let failing = true;
    harness.store.listAudience = async (...args) => {
      if (failing) throw new Error('DynamoDB is unavailable');
      return listAudience(...args);
    };
    harness.store.listConnections = async (...args) => {
      if (failing) throw new Error('DynamoDB is unavailable');
      return listConnections(...args);
    };

    await TestConnection.open(service, { workspace, sub: 'bob' });
    await reader.drained();
    failing = false;
    await TestConnection.open(service, { workspace, sub: 'carol' });
    await reader.drained();

    expect(failures).toHaveLength(1);
    expect(failures[0]?.records.length).toBeGreaterThan(0);
    expect(shown(harness, alice.id)).toContain('carol:connect:online@1');
  });

  it('a GoneException during delivery forgets the connection, and its user goes offline for the others', async () => {
    const { harness, service, reader, workspace } = await onStream();
    const alice = await TestConnection.open(service, { workspace, sub: 'alice' });
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    await reader.drained();
    // Bob's tab vanished without a $disconnect: API Gateway answers 410.
    harness.gateway.gone.add(bob.id);
    harness.clock.advance(60_000);

    await alice.setStatus('away');
    await reader.drained();
    // The disconnect is a write; its change comes back through the stream. After the grace, it is published.
    harness.clock.advance(11_000);
    await service.sweep();
    await reader.drained();

    expect((await harness.store.listConnections(workspace)).map((connection) => connection.connectionId)).toEqual([alice.id]);
    expect(shown(harness, alice.id).filter((line) => line.startsWith('bob:'))).toEqual(['bob:connect:online@1', 'bob:disconnect:offline@3']);
  });
});
