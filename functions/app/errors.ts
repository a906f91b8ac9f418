/**
 * Typed errors. Each carries the protocol's code; the handlers map them to replies in one place
 * per kind of entry point, so a client's mistake never becomes a 500 and no reply has a stack.
 */
export abstract class PresenceError extends Error {
  abstract readonly code: string;
  /** HTTP status when the error reaches an HTTP caller. */
  abstract readonly httpStatus: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class InvalidJsonError extends PresenceError {
  override readonly name = 'InvalidJsonError';
  readonly code = 'invalid_json';
  readonly httpStatus = 400;
}

export class UnknownActionError extends PresenceError {
  override readonly name = 'UnknownActionError';
  readonly code = 'unknown_action';
  readonly httpStatus = 400;
}

export class InvalidMessageError extends PresenceError {
  override readonly name = 'InvalidMessageError';
  readonly code = 'invalid_message';
  readonly httpStatus = 400;
}

export class InvalidStatusError extends PresenceError {
  override readonly name = 'InvalidStatusError';
  readonly code = 'invalid_status';
  readonly httpStatus = 400;
  constructor(message = 'status must be online or away') {
    super(message);
  }
}

export class RateLimitedError extends PresenceError {
  override readonly name = 'RateLimitedError';
  readonly code = 'rate_limited';
  readonly httpStatus = 429;
}

export class InvalidRequestError extends PresenceError {
  override readonly name = 'InvalidRequestError';
  readonly code = 'invalid_request';
  readonly httpStatus = 400;
}

/** What every refused token is told, whatever the check that failed: the reason goes to the log only. */
export const REFUSED_TOKEN_MESSAGE = 'the token is missing, invalid or expired';

/**
 * A refused token. Its message is the same for every refusal, so a caller cannot probe which
 * check failed (signature, expiry, claims); `reason` says which, for the log.
 */
export class UnauthorizedError extends PresenceError {
  override readonly name = 'UnauthorizedError';
  readonly code = 'unauthorized';
  readonly httpStatus = 401;
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(REFUSED_TOKEN_MESSAGE, options);
  }
}

export class ForbiddenError extends PresenceError {
  override readonly name = 'ForbiddenError';
  readonly code = 'forbidden';
  readonly httpStatus = 403;
}

export class NotFoundError extends PresenceError {
  override readonly name = 'NotFoundError';
  readonly code = 'not_found';
  readonly httpStatus = 404;
}

/** Too many concurrent writers on one agent: retrying later will work. */
/** The token a connection was opened with has ended: the connection is closed after this reply. */
export class TokenExpiredError extends PresenceError {
  override readonly name = 'TokenExpiredError';
  readonly code = 'token_expired';
  readonly httpStatus = 401;
}

/** A user already has as many open connections as allowed (PRESENCE_MAX_CONNECTIONS_PER_USER). */
export class TooManyConnectionsError extends PresenceError {
  override readonly name = 'TooManyConnectionsError';
  readonly code = 'too_many_connections';
  readonly httpStatus = 429;
}

export class ContentionError extends PresenceError {
  override readonly name = 'ContentionError';
  readonly code = 'busy';
  readonly httpStatus = 503;
}

/** The management API says the connection is closed (API Gateway's GoneException, HTTP 410). */
export class ConnectionGoneError extends Error {
  override readonly name = 'ConnectionGoneError';
  constructor(readonly connectionId: string, options?: { cause?: unknown }) {
    super(`connection ${connectionId} is gone`, options);
  }
}

/** Configuration that cannot work: thrown once at cold start, before serving anything. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/**
 * A fan-out chunk could not be handed over. `maybePosted` is false when the dispatch was refused
 * before anything ran (the consumer then posts the chunk itself) and true when the chunk's invocation
 * started and failed, so some of its posts may have been made (reposting them would duplicate).
 */
export class FanoutDispatchError extends Error {
  override readonly name = 'FanoutDispatchError';
  constructor(message: string, readonly maybePosted: boolean, options?: { cause?: unknown }) {
    super(message, options);
  }
}
