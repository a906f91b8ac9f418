/** Read side for assignment: who is online (or away, or offline) right now, exact between sweeps. */
import { type PresenceView, type Status, view } from '#domain/agent.ts';
import { NotFoundError } from '#app/errors.ts';
import { policyFrom, workspacePolicy } from '#app/policy.ts';
import type { Ports, StoredAgent } from '#app/ports.ts';

export interface AgentQuery {
  workspaceId: string;
  status: Status;
  team?: string | undefined;
}

type ReadPorts = Pick<Ports, 'store' | 'clock' | 'config'>;

/**
 * Exactly the users whose effective status is `status` at the moment of the query. Deadlines are
 * applied at read time, so a user whose lease or idle deadline just passed is never returned.
 */
export async function queryAgents(ports: ReadPorts, query: AgentQuery): Promise<PresenceView[]> {
  const candidates: Promise<StoredAgent[]> =
    query.status === 'offline'
      ? ports.store.listAgents(query.workspaceId)
      : ports.store.listByStatus(query.workspaceId, query.status);
  const [agents, policy] = await Promise.all([candidates, workspacePolicy(ports, query.workspaceId)]);
  const now = ports.clock.now();
  return agents
    .map((agent) => view(agent, now, policy))
    .filter((agent) => agent.status === query.status && (!query.team || agent.teams.includes(query.team)))
    .sort((a, b) => a.userId.localeCompare(b.userId));
}

export async function getAgent(ports: ReadPorts, workspaceId: string, userId: string): Promise<PresenceView> {
  const { agent, settings } = await ports.store.getAgentWithSettings(workspaceId, userId);
  const policy = policyFrom(ports.config, settings);
  if (!agent) throw new NotFoundError(`no agent ${userId} in this workspace`);
  return view(agent, ports.clock.now(), policy);
}
