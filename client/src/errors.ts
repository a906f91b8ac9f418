/** The client's one error type, shared by every module that reports or rejects. */

export type PresenceClientErrorCode =
  | 'invalid_status'
  | 'invalid_json'
  | 'unknown_action'
  | 'invalid_message'
  | 'rate_limited'
  | 'not_connected'
  | 'closed'
  | 'timeout'
  | 'connection_failed'
  | 'token_failed'
  | 'too_many_connections'
  | (string & {});

/** Every error the client reports: the server's error codes and the client's own. */
export class PresenceClientError extends Error {
  override readonly name = 'PresenceClientError';
  constructor(
    readonly code: PresenceClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
