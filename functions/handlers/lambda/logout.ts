/** WebSocket `logout`: its reply (and only its reply) is posted to the sender. */
import { gatewayFromEnv } from '#handlers/connections-wiring.ts';
import { makeLogoutHandler } from '#handlers/websocket.ts';
import { lambdaPorts } from './ports.ts';
import { instrument, lambda } from './powertools.ts';

const { ports, limiter } = lambdaPorts({ gateway: gatewayFromEnv(process.env, instrument) });
export const logout = lambda(() => makeLogoutHandler({ ports: ports(), limiter: limiter() }));
