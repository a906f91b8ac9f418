/** online-agents: the assignment query, invoked directly; reads only. */
import { makeOnlineAgentsHandler } from '#handlers/online-agents.ts';
import { lambdaPorts } from './ports.ts';
import { lambda } from './powertools.ts';

const { ports } = lambdaPorts();
export const onlineAgents = lambda(() => makeOnlineAgentsHandler({ ports: ports() }));
