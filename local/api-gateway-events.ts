/**
 * Events shaped as API Gateway WebSocket APIs send them to Lambda. Used by the local emulator and
 * the tests, and checked against Powertools' parser schema, so local runs see what Lambda sees.
 */
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import type { WebSocketEvent } from '#handlers/websocket.ts';

interface ApiInfo {
  apiId: string;
  stage: string;
  domainName: string;
  region?: string;
  accountId?: string;
}

export interface ConnectionInfo extends ApiInfo {
  connectionId: string;
  connectedAt: number;
  sourceIp: string;
  userAgent?: string;
  /** The authorizer's context plus principalId, as API Gateway passes it to every route. */
  authorizer?: Record<string, unknown>;
}

/** Connection ids look like API Gateway's: 12 URL-safe base64 characters ending in `=`. */
export function newConnectionId(): string {
  return `${randomBytes(9).toString('base64url').slice(0, 11)}=`;
}

function requestId(): string {
  return randomBytes(6).toString('base64url');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's CLF-like request time, e.g. 25/Nov/2026:09:00:00 +0000. */
export function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  // Not toLocaleString: it costs about a millisecond, on every event of a storm.
  const month = MONTHS[d.getUTCMonth()];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${month}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function headersFor(info: ConnectionInfo, extra: Record<string, string> = {}) {
  const headers: Record<string, string> = {
    Host: info.domainName,
    'Sec-WebSocket-Version': '13',
    'X-Forwarded-For': info.sourceIp,
    ...(info.userAgent ? { 'User-Agent': info.userAgent } : {}),
    ...extra,
  };
  const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([key, value]) => [key, [value]]));
  return { headers, multiValueHeaders };
}

function requestContext(info: ConnectionInfo, routeKey: string, eventType: 'CONNECT' | 'DISCONNECT' | 'MESSAGE', now: number) {
  const id = requestId();
  return {
    routeKey,
    eventType,
    extendedRequestId: id,
    requestTime: requestTime(now),
    messageDirection: 'IN' as const,
    stage: info.stage,
    connectedAt: info.connectedAt,
    requestTimeEpoch: now,
    identity: { sourceIp: info.sourceIp, ...(info.userAgent ? { userAgent: info.userAgent } : {}) },
    requestId: id,
    domainName: info.domainName,
    connectionId: info.connectionId,
    apiId: info.apiId,
  };
}

export function authorizerEvent(
  info: ConnectionInfo,
  query: Record<string, string>,
  now: number,
): APIGatewayRequestAuthorizerEvent {
  const region = info.region ?? 'us-east-1';
  const account = info.accountId ?? '000000000000';
  return {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:${region}:${account}:${info.apiId}/${info.stage}/$connect`,
    ...headersFor(info, { Connection: 'upgrade', Upgrade: 'websocket' }),
    queryStringParameters: query,
    multiValueQueryStringParameters: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])),
    stageVariables: {},
    requestContext: requestContext(info, '$connect', 'CONNECT', now),
    isBase64Encoded: false,
    body: null,
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

export function connectEvent(info: ConnectionInfo, query: Record<string, string>, now: number): WebSocketEvent {
  return {
    ...headersFor(info, { Connection: 'upgrade', Upgrade: 'websocket' }),
    queryStringParameters: query,
    multiValueQueryStringParameters: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])),
    requestContext: { ...requestContext(info, '$connect', 'CONNECT', now), authorizer: info.authorizer ?? null },
    isBase64Encoded: false,
  } as WebSocketEvent;
}

export function disconnectEvent(
  info: ConnectionInfo,
  now: number,
  reason = 'Client-side close frame',
  statusCode = 1005,
): WebSocketEvent {
  return {
    ...headersFor(info),
    requestContext: {
      ...requestContext(info, '$disconnect', 'DISCONNECT', now),
      disconnectStatusCode: statusCode,
      disconnectReason: reason,
      authorizer: info.authorizer ?? null,
    },
    isBase64Encoded: false,
  } as WebSocketEvent;
}

/** A frame on an open connection: routeKey is the selected route (`heartbeat`, ..., `$default`). */
export function messageEvent(info: ConnectionInfo, routeKey: string, body: string, now: number): WebSocketEvent {
  return {
    requestContext: {
      ...requestContext(info, routeKey, 'MESSAGE', now),
      messageId: requestId(),
      authorizer: info.authorizer ?? null,
    },
    body,
    isBase64Encoded: false,
  } as WebSocketEvent;
}

/** API Gateway's route selection on `$request.body.action`. */
export function selectRoute(body: string, routes: readonly string[]): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const action = (parsed as { action?: unknown }).action;
      if (typeof action === 'string' && routes.includes(action)) return action;
    }
  } catch {
    // not JSON: $default
  }
  return '$default';
}

export interface HttpRequestInfo {
  method: string;
  /** The path without the query string, as received (still percent-encoded). */
  path: string;
  rawQueryString?: string;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
  sourceIp?: string;
  now: number;
}

/**
 * An API Gateway HTTP API (payload format 2.0) event. Like API Gateway, duplicate query
 * parameters are joined with commas and header names are lower case.
 */
export function httpApiEvent(request: HttpRequestInfo): APIGatewayProxyEventV2 {
  const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const rawQueryString = request.rawQueryString ?? '';
  const query: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    query[key] = key in query ? `${query[key]},${value}` : value;
  }
  const id = requestId();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString,
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: request.method.toUpperCase(),
        path: request.path,
        protocol: 'HTTP/1.1',
        sourceIp: request.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: id,
      routeKey: '$default',
      stage: '$default',
      time: requestTime(request.now),
      timeEpoch: request.now,
    },
    ...(request.body !== undefined ? { body: request.body } : {}),
    isBase64Encoded: request.isBase64Encoded ?? false,
  };
}
