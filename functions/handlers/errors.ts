/** One error-to-reply mapping per kind of entry point. No reply ever carries a stack trace. */
import { PresenceError, UnauthorizedError } from '#app/errors.ts';
import type { ErrorMessage } from '#app/messages.ts';
import type { Logger } from '#app/ports.ts';

export interface HttpErrorBody {
  error: { code: string; message: string };
}

export function errorReply(error: unknown, logger: Logger): { status: number; body: HttpErrorBody } {
  // The caller is told only that the token was refused; which check failed is for the log.
  if (error instanceof UnauthorizedError) logger.info('token refused', { reason: error.reason });
  if (error instanceof PresenceError) {
    return { status: error.httpStatus, body: { error: { code: error.code, message: error.message } } };
  }
  logger.error('unexpected error', { error });
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
}

/** The WebSocket `error` message for a failed client message. */
export function errorMessage(error: unknown, logger: Logger): ErrorMessage {
  const { body } = errorReply(error, logger);
  return { type: 'error', code: body.error.code, message: body.error.message };
}
