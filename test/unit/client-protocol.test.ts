/** The client package mirrors a few of the server's rules (it has no server imports): they must not drift apart. */
import { describe, expect, it } from 'vitest';
import { ID_PATTERN, MAX_TEAMS } from '#domain/ids.ts';
import * as client from '../../client/src/protocol.ts';

describe('the client checks what the server checks', () => {
  it('the id rule', () => {
    expect(client.ID_PATTERN.source).toBe(ID_PATTERN.source);
    expect(client.ID_PATTERN.flags).toBe(ID_PATTERN.flags);
  });

  it('the most teams a subscription follows', () => {
    expect(client.MAX_TEAMS).toBe(MAX_TEAMS);
  });
});
