/**
 * WebSocket API handlers: the REQUEST authorizer, `$connect`, `$disconnect`, the message routes and
 * `$default`. Each is a factory over its dependencies; composition.ts wires the real ones.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import {
  ConnectionGoneError,
  InvalidJsonError,
  InvalidMessageError,
  InvalidStatusError,
  RateLimitedError,
  TokenExpiredError,
  UnauthorizedError,
  UnknownActionError,
} from '#app/errors.ts';
import type { ConnectionRateLimiter } from '#app/rate-limit.ts';
import { tokenExpiredMessage } from '#app/messages.ts';
import type { Logger, Ports } from '#app/ports.ts';
import type { Principal, TokenVerifier } from '#app/principal.ts';
import { MESSAGE_ACTIONS, type MessageAction } from '#app/routes.ts';
import * as agentActions from '#app/agent-actions.ts';
import type { ConnectionContext } from '#app/agent-actions.ts';
import * as snapshots from '#app/snapshots.ts';
import { errorMessage, errorReply } from '#handlers/errors.ts';
import {
  authorizerContextSchema,
  bareActionMessage,
  chosenStatusSchema,
  connectTeamsParameter,
  describeIssues,
  heartbeatMessage,
  setStatusMessage,
  subscribeMessage,
} from '#handlers/schemas.ts';
import type { z } from 'zod';
import { authorizerRefusal } from '#handlers/authorizer-refusal.ts';

/** The part of an API Gateway WebSocket event the handlers read. */
export interface WebSocketEvent {
  requestContext: {
    routeKey: string;
    eventType: 'CONNECT' | 'DISCONNECT' | 'MESSAGE';
    connectionId: string;
    connectedAt: number;
    authorizer?: Record<string, unknown> | null;
  };
  /** `$connect` only: the query string of the WebSocket URL. */
  queryStringParameters?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
}

export interface WebSocketResult {
  statusCode: number;
}

export type WebSocketHandler = (event: WebSocketEvent) => Promise<WebSocketResult>;

// ---------- authorizer ----------

export interface AuthorizerContext {
  [key: string]: string;
  userId: string;
  workspaceId: string;
  name: string;
  teams: string;
  role: string;
  /** The token's end, epoch ms (API Gateway context values are strings). */
  expiresAt: string;
}

/**
 * Runs before the upgrade. Throwing `Unauthorized` is how API Gateway is told to answer 401;
 * a Deny policy gives 403 (a `service` token may call the HTTP API but not open a WebSocket).
 */
export function makeAuthorizerHandler(deps: { verifier: TokenVerifier; logger?: Logger | undefined }) {
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult & { context?: AuthorizerContext }> => {
    const token = event.queryStringParameters?.token;
    let principal: Principal;
    try {
      principal = await deps.verifier.verify(token ?? '');
    } catch (error) {
      if (error instanceof UnauthorizedError) {
        // The client is told only 401; which check failed is for the log.
        deps.logger?.info('token refused', { reason: error.reason });
        throw authorizerRefusal();
      }
      throw error;
    }
    const effect = principal.role === 'service' ? 'Deny' : 'Allow';
    return {
      principalId: `${principal.workspaceId}:${principal.userId}`,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: event.methodArn }],
      },
      context: {
        userId: principal.userId,
        workspaceId: principal.workspaceId,
        name: principal.name,
        teams: JSON.stringify(principal.teams),
        role: principal.role,
        expiresAt: String(principal.expiresAt ?? ''),
      },
    };
  };
}

/** The identity the authorizer verified, carried by API Gateway to every route. */
function connectionContext(event: WebSocketEvent): ConnectionContext {
  const parsed = authorizerContextSchema.safeParse(event.requestContext.authorizer ?? {});
  if (!parsed.success) throw new UnauthorizedError('the connection has no verified identity');
  return {
    principal: parsed.data,
    connectionId: event.requestContext.connectionId,
    connectedAt: event.requestContext.connectedAt,
  };
}

// ---------- connect / disconnect ----------

/** The subscription a `$connect` asks for with `?teams=a,b` (PROTOCOL.md); null: the whole workspace. */
function connectScope(event: WebSocketEvent): string[] | null {
  const teams = event.queryStringParameters?.teams;
  if (teams === undefined) return null;
  const parsed = connectTeamsParameter.safeParse(teams);
  if (!parsed.success) throw new InvalidMessageError(describeIssues(parsed.error));
  return parsed.data;
}

export function makeConnectHandler(deps: { ports: Ports }): WebSocketHandler {
  return async (event) => {
    try {
      await agentActions.connect(deps.ports, connectionContext(event), connectScope(event));
      return { statusCode: 200 };
    } catch (error) {
      return { statusCode: errorReply(error, deps.ports.logger).status };
    }
  };
}

export function makeDisconnectHandler(deps: MessageDeps): WebSocketHandler {
  return async (event) => {
    deps.limiter?.forget(event.requestContext.connectionId);
    try {
      await agentActions.disconnect(deps.ports, connectionContext(event));
    } catch (error) {
      // Nobody receives a $disconnect reply, and the lease takes the user offline only later
      // (as a timeout): a failure here is never silent.
      deps.ports.logger.error('disconnect failed; the lease will take the user offline', {
        connectionId: event.requestContext.connectionId,
        error,
      });
    }
    return { statusCode: 200 };
  };
}

// ---------- messages ----------

function parseBody(event: WebSocketEvent): unknown {
  const raw = event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (typeof raw !== 'string') throw new InvalidJsonError('the message must be a JSON object');
  try {
    return JSON.parse(raw);
  } catch {
    throw new InvalidJsonError('the message is not valid JSON');
  }
}

function parseWith<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new InvalidMessageError(describeIssues(parsed.error));
  return parsed.data;
}

/** What the message routes need; without a limiter nothing is rate limited (unit tests). */
export interface MessageDeps {
  ports: Ports;
  limiter?: ConnectionRateLimiter | undefined;
}

/**
 * Budget, parse, run, and on any error reply to the sender with an `error` message; never a
 * failed invocation. A connection over its budget is refused before any read, write or fan-out.
 */
function makeMessageHandler(
  deps: MessageDeps,
  action: string,
  run: (ports: Ports, context: ConnectionContext, body: unknown) => Promise<void>,
): WebSocketHandler {
  return async (event) => {
    const connectionId = event.requestContext.connectionId;
    try {
      const context = connectionContext(event);
      // Before the budget: an expired connection is closed whatever its rate.
      const expiresAt = context.principal.expiresAt;
      if (expiresAt !== undefined && deps.ports.clock.now() >= expiresAt) {
        throw new TokenExpiredError(tokenExpiredMessage().message);
      }
      const budget = deps.limiter?.take(connectionId, action, deps.ports.clock.now()) ?? 'allow';
      // A client waits for the answer to a request, so every refused request is told; a flood
      // of heartbeats, which expect no answer, is told at most once a second.
      if (budget === 'refuse-silently' && action === 'heartbeat') return { statusCode: 200 };
      if (budget !== 'allow') throw new RateLimitedError('too many messages on this connection; slow down');
      await run(deps.ports, context, parseBody(event));
    } catch (error) {
      try {
        await deps.ports.gateway.post(connectionId, errorMessage(error, deps.ports.logger));
      } catch (postError) {
        deps.ports.logger.warn('could not deliver an error reply', { connectionId, error: postError });
      }
      // A connection outlives its token by at most one message: told why, then closed.
      if (error instanceof TokenExpiredError) {
        await deps.ports.gateway.delete(connectionId).catch((closeError: unknown) => {
          if (!(closeError instanceof ConnectionGoneError)) deps.ports.logger.warn('could not close an expired connection', { connectionId, error: closeError });
        });
      }
    }
    return { statusCode: 200 };
  };
}

export function makeHeartbeatHandler(deps: MessageDeps): WebSocketHandler {
  return makeMessageHandler(deps, 'heartbeat', async (ports, context, body) => {
    const message = parseWith(heartbeatMessage, body);
    await agentActions.heartbeat(ports, context, message.active ?? false);
  });
}

export function makeSetStatusHandler(deps: MessageDeps): WebSocketHandler {
  return makeMessageHandler(deps, 'setStatus', async (ports, context, body) => {
    const message = parseWith(setStatusMessage, body);
    const status = chosenStatusSchema.safeParse(message.status);
    if (!status.success) throw new InvalidStatusError();
    await agentActions.setStatus(ports, context, status.data, message.awayReason ?? null);
  });
}

export function makeGetPresenceHandler(deps: MessageDeps): WebSocketHandler {
  return makeMessageHandler(deps, 'getPresence', async (ports, context, body) => {
    parseWith(bareActionMessage('getPresence'), body);
    await snapshots.getPresence(ports, context);
  });
}

export function makeSubscribeHandler(deps: MessageDeps): WebSocketHandler {
  return makeMessageHandler(deps, 'subscribe', async (ports, context, body) => {
    const message = parseWith(subscribeMessage, body);
    await snapshots.subscribe(ports, context, message.teams);
  });
}

export function makeLogoutHandler(deps: MessageDeps): WebSocketHandler {
  return makeMessageHandler(deps, 'logout', async (ports, context, body) => {
    parseWith(bareActionMessage('logout'), body);
    await agentActions.logout(ports, context);
  });
}

/** `$default`: anything route selection did not match. */
export function makeDefaultHandler(deps: MessageDeps): WebSocketHandler {
  return makeMessageHandler(deps, '$default', async (_ports, _context, body) => {
    const action = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { action?: unknown }).action : undefined;
    if (typeof action === 'string' && (MESSAGE_ACTIONS as readonly string[]).includes(action)) {
      // Route selection sends known actions to their own routes; only a misconfigured API gets here.
      throw new InvalidMessageError(`action ${action} was not routed`);
    }
    throw new UnknownActionError(`unknown action; expected one of ${MESSAGE_ACTIONS.join(', ')}`);
  });
}

/**
 * Every WebSocket route's handler, keyed as API Gateway routes them. In AWS each is its own
 * Lambda (functions/handlers/lambda/); the local stack and the tests serve the whole set from one process.
 */
export function makeWebSocketApi(deps: MessageDeps & { verifier: TokenVerifier }) {
  return {
    authorizer: makeAuthorizerHandler({ verifier: deps.verifier, logger: deps.ports.logger }),
    connect: makeConnectHandler(deps),
    disconnect: makeDisconnectHandler(deps),
    routes: {
      heartbeat: makeHeartbeatHandler(deps),
      setStatus: makeSetStatusHandler(deps),
      subscribe: makeSubscribeHandler(deps),
      getPresence: makeGetPresenceHandler(deps),
      logout: makeLogoutHandler(deps),
      $default: makeDefaultHandler(deps),
    } satisfies Record<MessageAction | '$default', WebSocketHandler>,
  };
}
