/** WebSocket `$connect`: reads, decides and writes the agent and the connection; posts nothing. */
import { makeConnectHandler } from '#handlers/websocket.ts';
import { lambdaPorts } from './ports.ts';
import { lambda } from './powertools.ts';

const { ports } = lambdaPorts();
export const connect = lambda(() => makeConnectHandler({ ports: ports() }));
