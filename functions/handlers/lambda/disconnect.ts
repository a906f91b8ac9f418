/** WebSocket `$disconnect`: reads, decides and writes the agent and the connection; posts nothing. */
import { makeDisconnectHandler } from '#handlers/websocket.ts';
import { lambdaPorts } from './ports.ts';
import { lambda } from './powertools.ts';

const { ports, limiter } = lambdaPorts();
export const disconnect = lambda(() => makeDisconnectHandler({ ports: ports(), limiter: limiter() }));
