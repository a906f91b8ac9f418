/**
 * API Gateway answers a WebSocket `$connect` with 401 when its REQUEST authorizer throws an error
 * whose message is exactly `Unauthorized`; any other error becomes a 500.
 */
const REFUSAL_MESSAGE = 'Unauthorized';

export function authorizerRefusal(): Error {
  return new Error(REFUSAL_MESSAGE);
}

export function isAuthorizerRefusal(error: unknown): boolean {
  return error instanceof Error && error.message === REFUSAL_MESSAGE;
}
