/**
 * API Gateway limits each WebSocket frame to 32 KB, and ws has no such limit (only `maxPayload`,
 * per message). This patches the one place in ws's receiver that knows a frame's length.
 */
import type { WebSocket } from 'ws';

/** The parts of ws 8.x's receiver (private, hence pinned) the patch relies on. */
interface FrameReceiver {
  _opcode: number;
  _payloadLength: number;
  haveLength(callback: (error?: Error) => void): void;
  createError(type: typeof RangeError, message: string, prefix: boolean, code: number, errorCode: string): Error;
}

/**
 * Fails a data frame over `limitBytes` the way ws fails an oversized message: close 1009.
 * Control frames (close, ping, pong) are left alone. Throws if ws's internals have changed, so
 * an upgrade of ws cannot silently lift the limit.
 */
export function limitFrameSize(socket: WebSocket, limitBytes: number): void {
  const receiver = (socket as unknown as { _receiver?: FrameReceiver })._receiver;
  if (!receiver || typeof receiver.haveLength !== 'function') {
    throw new Error('ws receiver internals changed: the frame limit cannot be enforced');
  }
  const haveLength = receiver.haveLength;
  receiver.haveLength = function (this: FrameReceiver, callback: (error?: Error) => void) {
    if (this._opcode < 0x08 && this._payloadLength > limitBytes) {
      callback(this.createError(RangeError, 'Frame size exceeded', false, 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'));
      return;
    }
    haveLength.call(this, callback);
  };
}
