/** The event factories produce what API Gateway sends, checked against Powertools' parser schema. */
import { describe, expect, it } from 'vitest';
import { APIGatewayProxyWebsocketEventSchema } from '@aws-lambda-powertools/parser/schemas';
import {
  authorizerEvent,
  type ConnectionInfo,
  connectEvent,
  disconnectEvent,
  messageEvent,
  newConnectionId,
  requestTime,
  selectRoute,
} from '#local/api-gateway-events.ts';
import { MESSAGE_ACTIONS } from '#app/routes.ts';

const info: ConnectionInfo = {
  apiId: 'abc123',
  stage: 'prod',
  domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
  connectionId: newConnectionId(),
  connectedAt: 1_764_000_000_000,
  sourceIp: '203.0.113.7',
  userAgent: 'test',
  authorizer: { userId: 'alice', workspaceId: 'acme', name: 'Alice', teams: '[]', role: 'agent', principalId: 'acme:alice' },
};
const requestContextSchema = APIGatewayProxyWebsocketEventSchema.shape.requestContext;

describe('API Gateway WebSocket events', () => {
  it('the authorizer event matches the full REQUEST schema', () => {
    const event = authorizerEvent(info, { token: 't' }, info.connectedAt + 1);
    expect(APIGatewayProxyWebsocketEventSchema.safeParse(event).success).toBe(true);
    expect(event.methodArn).toBe('arn:aws:execute-api:us-east-1:000000000000:abc123/prod/$connect');
  });

  it.each([
    ['$connect', connectEvent(info, { token: 't' }, info.connectedAt), 'CONNECT'],
    ['$disconnect', disconnectEvent(info, info.connectedAt + 5), 'DISCONNECT'],
    ['heartbeat', messageEvent(info, 'heartbeat', '{"action":"heartbeat"}', info.connectedAt + 9), 'MESSAGE'],
  ])('%s carries API Gateway’s request context and the authorizer context', (routeKey, event, eventType) => {
    expect(requestContextSchema.safeParse(event.requestContext).error).toBeUndefined();
    expect(event.requestContext).toMatchObject({ routeKey, eventType, connectionId: info.connectionId, connectedAt: info.connectedAt });
    expect(event.requestContext.authorizer).toMatchObject({ userId: 'alice', workspaceId: 'acme' });
  });

  it('connection ids look like API Gateway’s', () => {
    expect(newConnectionId()).toMatch(/^[A-Za-z0-9_-]{11}=$/);
  });

  it('formats the request time as API Gateway does', () => {
    expect(requestTime(Date.UTC(2026, 10, 5, 9, 3, 7))).toBe('05/Nov/2026:09:03:07 +0000');
  });

  it.each([
    ['{"action":"heartbeat","active":true}', 'heartbeat'],
    ['{"action":"setStatus","status":"away"}', 'setStatus'],
    ['{"action":"nope"}', '$default'],
    ['{"action":1}', '$default'],
    ['[{"action":"heartbeat"}]', '$default'],
    ['not json', '$default'],
  ])('route selection on $request.body.action: %s -> %s', (body, route) => {
    expect(selectRoute(body, MESSAGE_ACTIONS)).toBe(route);
  });
});
