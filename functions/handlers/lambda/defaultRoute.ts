/** WebSocket `$default`: answers an unknown action with an error posted to the sender. */
import { gatewayFromEnv } from '#handlers/connections-wiring.ts';
import { makeDefaultHandler } from '#handlers/websocket.ts';
import { lambdaPorts } from './ports.ts';
import { instrument, lambda } from './powertools.ts';

const { ports, limiter } = lambdaPorts({ gateway: gatewayFromEnv(process.env, instrument) });
export const defaultRoute = lambda(() => makeDefaultHandler({ ports: ports(), limiter: limiter() }));
