/**
 * Per-connection budgets at the defaults (burst 20, 2 per second; setStatus costs 4, getPresence
 * 5): a flood is refused with `rate_limited` instead of DynamoDB work and fan-out. Every refused
 * request is told (a client waits for its answer); a heartbeat flood at most once a second.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Client, type TestStack, startTestStack, uniqueWorkspace } from '#test/support/stack.ts';

let stack: TestStack;

/**
 * Sends and waits until the server handled every frame. (The usual barrier, a getPresence round
 * trip, is itself rate limited here; only this file's two clients send, so the count is theirs.)
 */
async function flood(client: Client, messages: object[]): Promise<void> {
  const target = stack.emulator.messagesReceived + messages.length;
  for (const message of messages) client.send(message);
  while (stack.emulator.messagesReceived < target) await new Promise((resolve) => setImmediate(resolve));
  await stack.delivered();
}
beforeAll(async () => {
  stack = await startTestStack({ env: { PRESENCE_RATE_LIMIT_BURST: '20', PRESENCE_RATE_LIMIT_PER_SECOND: '2' } });
});
afterAll(async () => {
  await stack?.stop();
});

it('a status flood changes the status a bounded number of times and each refusal is told', async () => {
  const workspace = uniqueWorkspace();
  const observer = await stack.connect({ workspace, user: 'observer' });
  const bob = await stack.connect({ workspace, user: 'bob' });
  await observer.next('presence', (m) => m.userId === 'bob' && m.reason === 'connect');
  await flood(bob, Array.from({ length: 40 }, (_, i) => ({ action: 'setStatus', status: i % 2 === 0 ? 'away' : 'online' })));
  // The clock has not moved: 20 tokens buy 5 status changes, every later one is refused.
  expect(await bob.next('error')).toMatchObject({ code: 'rate_limited' });
  stack.clock.advance(10_000); // 20 tokens again (and the observer's round trip below costs 5)
  await stack.deliver(observer);
  // Five allowed changes run concurrently (as Lambda would), so races may merge some of them.
  const changes = observer.presenceOf('bob').filter((m) => m.type === 'presence' && m.reason === 'manual').length;
  expect(changes).toBeGreaterThanOrEqual(1);
  expect(changes).toBeLessThanOrEqual(5);
  const errors = bob.messages.filter((m) => m.type === 'error');
  expect(errors).toHaveLength(35);
  expect(new Set(errors.map((m) => m.type === 'error' && m.code))).toEqual(new Set(['rate_limited']));

  // Budget regained: a change goes through again.
  const since = observer.mark();
  bob.send({ action: 'setStatus', status: 'away' });
  await observer.next('presence', (m) => m.userId === 'bob', { since });
});

it('a heartbeat or snapshot flood is refused before it reaches the store', async () => {
  const workspace = uniqueWorkspace();
  const bob = await stack.connect({ workspace, user: 'bob' });
  await flood(bob, Array.from({ length: 10 }, () => ({ action: 'getPresence' })));
  await flood(bob, Array.from({ length: 50 }, () => ({ action: 'heartbeat' })));
  stack.clock.advance(10_000);
  await stack.deliver(bob); // budget regained: this round trip proves every earlier reply arrived
  // 20 tokens: four snapshots and six refusals, each told; then the heartbeats are refused
  // silently (a notice was sent in this instant). The fifth snapshot is the barrier's.
  expect(bob.messages.filter((m) => m.type === 'snapshot')).toHaveLength(5);
  expect(bob.messages.filter((m) => m.type === 'error')).toHaveLength(6);
});
