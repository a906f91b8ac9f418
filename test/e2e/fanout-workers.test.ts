/**
 * The local stack's parallel fan-out: with more connections than a chunk holds, the chunks go to
 * worker threads running the fan-out handler, and every client still gets each change exactly
 * once, in order. The same workspace with workers turned off is the control.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, startTestStack, type TestStack, uniqueWorkspace } from '#test/support/stack.ts';

const CLIENTS = 9;

describe.each([
  ['worker threads', 2],
  ['no workers (control)', 0],
])('a fan-out larger than a chunk, with %s', (_label, workers) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ fanoutWorkers: workers, env: { PRESENCE_FANOUT_CHUNK_SIZE: '3' } });
  });
  afterAll(() => stack?.stop());

  it('reaches every connection exactly once, in order', async () => {
    const workspace = uniqueWorkspace();
    const clients: Client[] = [];
    for (let i = 0; i < CLIENTS; i++) clients.push(await stack.connect({ workspace, user: `agent-${i}` }));
    const changer = clients[0]!;
    // The connects' own changes are delivered (in chunks too) before counting starts.
    await stack.delivered();
    const chunksBefore = stack.fanoutChunks();

    await stack.deliver(changer, { action: 'setStatus', status: 'away' });
    stack.clock.advance(1000);
    await stack.deliver(changer, { action: 'setStatus', status: 'online' });

    for (const client of clients) {
      // Posted before the handler returned; the socket may not have handed it over yet.
      await client.next('presence', (message) => message.userId === 'agent-0' && message.reason === 'manual' && message.status === 'online');
      const changes = client
        .presenceOf('agent-0')
        .filter((message) => message.type === 'presence' && message.reason === 'manual')
        .map((message) => message.type === 'presence' && `${message.previous}->${message.status}`);
      expect(changes).toEqual(['online->away', 'away->online']);
    }
    // Nine connections in chunks of three: three chunks for each of the two changes.
    expect(stack.fanoutChunks() - chunksBefore).toBe(workers > 0 ? 6 : 0);
  });
});
