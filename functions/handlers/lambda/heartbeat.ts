/** WebSocket `heartbeat`: its reply (and only its reply) is posted to the sender. */
import { gatewayFromEnv } from '#handlers/connections-wiring.ts';
import { makeHeartbeatHandler } from '#handlers/websocket.ts';
import { lambdaPorts } from './ports.ts';
import { instrument, lambda } from './powertools.ts';

const { ports, limiter } = lambdaPorts({ gateway: gatewayFromEnv(process.env, instrument) });
export const heartbeat = lambda(() => makeHeartbeatHandler({ ports: ports(), limiter: limiter() }));
