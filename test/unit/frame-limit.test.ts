/**
 * The frame limit patch on ws's own receiver (the pinned version), fed raw client frames: no
 * socket, no server. The e2e tests check it again through a real connection.
 */
import type { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import type { WebSocket } from 'ws';
import { limitFrameSize } from '#local/websocket/frame-limit.ts';

// ws exports its receiver at run time; @types/ws does not declare it.
const { Receiver } = ws as unknown as { Receiver: new (options: { isServer: boolean }) => Writable };

const TEXT = 0x1;
const CONTINUATION = 0x0;
const PING = 0x9;

/** A masked frame as a client sends it; `payloadBytes` may exceed the bytes sent, to send a header alone. */
function frame(opcode: number, payload: Buffer, { fin = true, payloadBytes = payload.length } = {}): Buffer {
  const first = (fin ? 0x80 : 0) | opcode;
  const header =
    payloadBytes < 126
      ? Buffer.from([first, 0x80 | payloadBytes])
      : Buffer.from([first, 0x80 | 126, payloadBytes >> 8, payloadBytes & 0xff]);
  const mask = Buffer.from([1, 2, 3, 4]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] ?? 0)));
  return Buffer.concat([header, mask, masked]);
}

/** A server-side receiver with the limit applied, and what it emitted (errors come a turn later). */
function limitedReceiver(limitBytes: number) {
  const receiver = new Receiver({ isServer: true });
  limitFrameSize({ _receiver: receiver } as unknown as WebSocket, limitBytes);
  const seen = { messages: [] as string[], pings: 0, errors: [] as Error[] };
  receiver.on('message', (data: Buffer) => seen.messages.push(data.toString()));
  receiver.on('ping', () => seen.pings++);
  receiver.on('error', (error: Error) => seen.errors.push(error));
  return { receiver, seen };
}

function statusCode(error: Error | undefined): unknown {
  const key = error && Object.getOwnPropertySymbols(error).find((symbol) => symbol.description === 'status-code');
  return key ? (error as unknown as Record<symbol, unknown>)[key] : undefined;
}

describe('limitFrameSize', () => {
  it('fails a data frame over the limit with close 1009 as soon as its length is read', async () => {
    const { receiver, seen } = limitedReceiver(200);
    // The header alone: the payload is never needed to refuse the frame.
    receiver.write(frame(TEXT, Buffer.alloc(0), { payloadBytes: 201 }).subarray(0, 4));
    await nextTurn();
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toMatchObject({ message: 'Frame size exceeded', code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' });
    expect(statusCode(seen.errors[0])).toBe(1009);
    expect(seen.messages).toEqual([]);
  });

  it('passes a frame at the limit, and a message larger than the limit sent in smaller frames', async () => {
    const { receiver, seen } = limitedReceiver(16);
    receiver.write(frame(TEXT, Buffer.from('a'.repeat(16))));
    receiver.write(frame(TEXT, Buffer.from('b'.repeat(16)), { fin: false }));
    receiver.write(frame(CONTINUATION, Buffer.from('c'.repeat(16))));
    await nextTurn();
    expect(seen.errors).toEqual([]);
    expect(seen.messages).toEqual(['a'.repeat(16), `${'b'.repeat(16)}${'c'.repeat(16)}`]);
  });

  it('limits continuation frames too', async () => {
    const { receiver, seen } = limitedReceiver(16);
    receiver.write(frame(TEXT, Buffer.from('b'.repeat(16)), { fin: false }));
    receiver.write(frame(CONTINUATION, Buffer.from('c'.repeat(17))));
    await nextTurn();
    expect(statusCode(seen.errors[0])).toBe(1009);
    expect(seen.messages).toEqual([]);
  });

  it('leaves control frames alone', async () => {
    const { receiver, seen } = limitedReceiver(4);
    receiver.write(frame(PING, Buffer.from('ping payload')));
    await nextTurn();
    expect(seen.errors).toEqual([]);
    expect(seen.pings).toBe(1);
  });

  it("throws when ws's receiver is not where the patch expects it", () => {
    expect(() => limitFrameSize({} as WebSocket, 16)).toThrow('ws receiver internals changed');
    expect(() => limitFrameSize({ _receiver: {} } as unknown as WebSocket, 16)).toThrow('ws receiver internals changed');
  });
});
