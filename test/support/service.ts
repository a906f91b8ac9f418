/** The real handlers over a harness, and a connection driver that speaks to them as API Gateway would. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  type ConnectionInfo,
  authorizerEvent,
  connectEvent,
  disconnectEvent,
  messageEvent,
  newConnectionId,
  selectRoute,
  httpApiEvent,
} from '#local/api-gateway-events.ts';
import { makeHttpHandler } from '#handlers/http.ts';
import { makeOnlineAgentsHandler } from '#handlers/online-agents.ts';
import { makeSweeperHandler } from '#handlers/sweeper.ts';
import { MESSAGE_ACTIONS } from '#app/routes.ts';
import { makeWebSocketApi, type WebSocketHandler } from '#handlers/websocket.ts';
import { type Harness, token, type TokenClaims, verifier } from '#test/support/harness.ts';
import { isAuthorizerRefusal } from '#handlers/authorizer-refusal.ts';

export function makeService(harness: Harness) {
  const deps = { ports: harness.ports };
  const { routes, ...handshake } = makeWebSocketApi({ ...deps, verifier });
  return {
    harness,
    ...handshake,
    routes: routes as Record<string, WebSocketHandler>,
    http: makeHttpHandler({ ports: harness.ports, verifier }),
    onlineAgents: makeOnlineAgentsHandler(deps),
    /** One sweep pass (no Lambda context: the local-timer mode). */
    sweep: makeSweeperHandler({ ports: harness.ports, sleep: async () => {}, windowMs: 60_000, reserveMs: 10_000 }),
  };
}

export type Service = ReturnType<typeof makeService>;

const API = { apiId: 'abc123', stage: 'test', domainName: 'abc123.execute-api.us-east-1.amazonaws.com' };

export class HandshakeRejected extends Error {
  constructor(readonly status: number) {
    super(`handshake rejected with ${status}`);
  }
}

/** A client connection driven through the authorizer, $connect, routes and $disconnect. */
export class TestConnection {
  private constructor(
    private readonly service: Service,
    readonly info: ConnectionInfo,
  ) {}

  get id(): string {
    return this.info.connectionId;
  }

  /** `query`: more of the URL's query string than the token (`teams`). */
  static async open(service: Service, claims: TokenClaims | { rawToken: string }, query: Record<string, string> = {}): Promise<TestConnection> {
    const now = service.harness.clock.now();
    const info: ConnectionInfo = { ...API, connectionId: newConnectionId(), connectedAt: now, sourceIp: '127.0.0.1' };
    const jwt = 'rawToken' in claims ? claims.rawToken : await token(claims);
    let authorized;
    try {
      authorized = await service.authorizer(authorizerEvent(info, { token: jwt }, now));
    } catch (error) {
      if (isAuthorizerRefusal(error)) throw new HandshakeRejected(401);
      throw error;
    }
    const statement = authorized.policyDocument.Statement[0] as { Effect: string };
    if (statement.Effect !== 'Allow') throw new HandshakeRejected(403);
    info.authorizer = { ...authorized.context, principalId: authorized.principalId };
    // As API Gateway: no post reaches a connection until its $connect has returned.
    service.harness.gateway.opening.add(info.connectionId);
    const result = await service.connect(connectEvent(info, { ...query, token: jwt }, now)).finally(() =>
      service.harness.gateway.opening.delete(info.connectionId),
    );
    if (result.statusCode !== 200) throw new HandshakeRejected(result.statusCode);
    return new TestConnection(service, info);
  }

  async send(body: string | object): Promise<void> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const route = selectRoute(text, MESSAGE_ACTIONS);
    const handler = this.service.routes[route];
    if (!handler) throw new Error(`no handler for ${route}`);
    await handler(messageEvent(this.info, route, text, this.service.harness.clock.now()));
  }

  heartbeat(active = false) {
    return this.send({ action: 'heartbeat', active });
  }
  setStatus(status: unknown) {
    return this.send({ action: 'setStatus', status });
  }
  getPresence() {
    return this.send({ action: 'getPresence' });
  }
  subscribe(teams: unknown) {
    return this.send({ action: 'subscribe', teams });
  }
  snapshots() {
    return this.service.harness.gateway.received(this.id, 'snapshot');
  }
  logout() {
    return this.send({ action: 'logout' });
  }
  async close(): Promise<void> {
    await this.service.disconnect(disconnectEvent(this.info, this.service.harness.clock.now()));
  }
  /** Messages this connection received. */
  received() {
    return this.service.harness.gateway.received(this.id);
  }
  /** The changes this connection received, one entry per change, across its `presence` messages. */
  presence() {
    return this.service.harness.gateway.changes(this.id);
  }
  errors() {
    return this.service.harness.gateway.received(this.id, 'error');
  }
}

export function httpEvent(
  method: string,
  path: string,
  options: { token?: string; query?: Record<string, string>; body?: string; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const rawQueryString = new URLSearchParams(options.query ?? {}).toString();
  return httpApiEvent({ method, path, rawQueryString, headers, ...(options.body !== undefined ? { body: options.body } : {}), now: 0 });
}
