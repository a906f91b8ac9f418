/**
 * A connection ends with its token: its first message after the token's `exp` gets a
 * `token_expired` error, and the connection is closed; that message changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { makeHarness, token, uniqueWorkspace, storedAgent } from '#test/support/harness.ts';
import { makeService, TestConnection } from '#test/support/service.ts';

/** Alice connected with a token that ends 10 minutes from now (real time, which the authorizer checks). */
async function aliceWithEndingToken() {
  const harness = await makeHarness();
  const service = makeService(harness);
  const workspace = uniqueWorkspace();
  const jwt = await token({ workspace, sub: 'alice' }, 600);
  const { exp } = decodeJwt(jwt) as { exp: number };
  const alice = await TestConnection.open(service, { rawToken: jwt });
  return { harness, service, workspace, alice, endsAt: exp * 1000 };
}

describe('a connection whose token has expired', () => {
  it('is told token_expired on its next message and closed; the message changes nothing', async () => {
    // Prepare
    const { harness, workspace, alice, endsAt } = await aliceWithEndingToken();
    harness.clock.current = endsAt - 1;
    await alice.heartbeat(true);
    expect(alice.errors()).toEqual([]);
    expect(harness.gateway.deleted).toEqual([]);
    const before = await storedAgent(harness.store, workspace, 'alice');

    // Act: the token's end passes.
    harness.clock.current = endsAt;
    await alice.setStatus('away');

    // Assess
    expect(alice.errors()).toEqual([expect.objectContaining({ code: 'token_expired' })]);
    expect(harness.gateway.deleted).toEqual([alice.id]);
    expect(await storedAgent(harness.store, workspace, 'alice')).toEqual(before);
  });

  it('that sends nothing gets no change after it: the next delivery tells it token_expired, closes and forgets it', async () => {
    // Prepare
    const { harness, service, workspace, alice, endsAt } = await aliceWithEndingToken();
    const bob = await TestConnection.open(service, { workspace, sub: 'bob' });
    harness.gateway.clear();

    // Act: past alice's token, bob changes; alice's connection says nothing.
    harness.clock.current = endsAt;
    await bob.setStatus('away');

    // Assess
    expect(alice.received()).toEqual([expect.objectContaining({ type: 'error', code: 'token_expired' })]);
    expect(harness.gateway.deleted).toEqual([alice.id]);
    expect((await harness.store.listConnections(workspace)).map((connection) => connection.connectionId)).toEqual([bob.id]);
    expect(Object.keys((await storedAgent(harness.store, workspace, 'alice'))?.connections ?? {})).toEqual([]);
  });
});
