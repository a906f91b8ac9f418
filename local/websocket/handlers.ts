/** What the emulator calls: the WebSocket API's Lambda handlers by route, and a logger. */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import type { WebSocketEvent, WebSocketResult } from '#handlers/websocket.ts';

export type AuthorizerHandler = (
  event: APIGatewayRequestAuthorizerEvent,
) => Promise<APIGatewayAuthorizerResult & { context?: Record<string, unknown> }>;
export type RouteHandler = (event: WebSocketEvent) => Promise<WebSocketResult & { body?: string }>;

export interface WebSocketApiHandlers {
  authorizer: AuthorizerHandler;
  connect: RouteHandler;
  disconnect: RouteHandler;
  /** Message routes by route key; `$default` takes what no other route matches. */
  routes: Record<string, RouteHandler>;
}

export interface EmulatorLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** The handlers' clock: event timestamps follow it, so tests that drive time see one timeline. */
export interface Clock {
  now(): number;
}
