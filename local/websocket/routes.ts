/**
 * Client messages to route handlers, as API Gateway routes them: route selection on
 * `$request.body.action`, `$default` for the rest and for binary frames (base64-encoded), events
 * shaped as API Gateway sends them (api-gateway-events.ts) with the authorizer context on every
 * route. A route response's body goes back to the sender; a failed integration gets API
 * Gateway's `Internal server error` message, a message with no route its `Forbidden`.
 */
import type { WebSocketEvent } from '#handlers/websocket.ts';
import { messageEvent, selectRoute } from '#local/api-gateway-events.ts';
import type { Client, ClientRegistry } from '#local/websocket/clients.ts';
import type { Clock, EmulatorLogger, RouteHandler } from '#local/websocket/handlers.ts';
import type { InFlight } from '#local/websocket/in-flight.ts';

export interface MessageRouterOptions {
  /** Route handlers by route key; `$default` takes what no other route matches. */
  routes: Record<string, RouteHandler>;
  clients: ClientRegistry;
  clock: Clock;
  logger: EmulatorLogger;
  inFlight: InFlight;
}

/** The function that hands one message from a client to its route's handler. */
export function messageRouter(options: MessageRouterOptions): (client: Client, data: Buffer | Buffer[], isBinary: boolean) => void {
  const { routes, clients, clock, logger, inFlight } = options;
  const routeKeys = Object.keys(routes).filter((key) => key !== '$default');
  return (client, data, isBinary) => {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : data;
    // Route selection needs a text body; API Gateway sends binary frames to $default, base64-encoded.
    const body = isBinary ? bytes.toString('base64') : bytes.toString('utf8');
    const route = isBinary ? '$default' : selectRoute(body, routeKeys);
    const handler = routes[route] ?? routes.$default;
    const connectionId = client.info.connectionId;
    if (!handler) {
      clients.send(client, JSON.stringify({ message: 'Forbidden', connectionId, requestId: 'local' }));
      return;
    }
    const event = messageEvent(client.info, route, body, clock.now());
    if (isBinary) event.isBase64Encoded = true;
    inFlight.track(
      handler(event).then(
        (result) => {
          // A route with a route response sends the integration's body back.
          if (typeof result?.body === 'string') clients.send(client, result.body);
        },
        (error: unknown) => {
          logger.error('route handler failed', { route, connectionId, error });
          // What API Gateway sends when the integration fails.
          clients.send(client, JSON.stringify({ message: 'Internal server error', connectionId, requestId: requestIdOf(event) }));
        },
      ),
    );
  };
}

function requestIdOf(event: WebSocketEvent): string {
  return (event.requestContext as { requestId?: string }).requestId ?? '';
}
