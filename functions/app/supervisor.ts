/**
 * What an admin does to a teammate: set their chosen status (and away reason), or sign them out
 * everywhere. Every change is attributed (`by`), pushed and recorded like the agent's own.
 */
import { type ChosenStatus, type PresenceView, view } from '#domain/agent.ts';
import * as decide from '#domain/decisions.ts';
import { NotFoundError } from '#app/errors.ts';
import { mutateAgent } from '#app/mutate.ts';
import { policyFrom } from '#app/policy.ts';
import type { Ports } from '#app/ports.ts';
import { assertAwayReason, signOut } from '#app/agent-actions.ts';
import { assertAdmin, type Principal } from '#app/principal.ts';

/** Only an admin of the workspace acts on a teammate (the HTTP handler asks first, before reading the body). */
export function authorizeSupervisor(principal: Principal, workspaceId: string): void {
  assertAdmin(principal, workspaceId, "change a teammate's status");
}

/** The agent's presence as readers see it now (404 for a user the workspace has never seen). */
async function presenceOf(ports: Pick<Ports, 'store' | 'clock' | 'config'>, workspaceId: string, userId: string): Promise<PresenceView> {
  const { agent, settings } = await ports.store.getAgentWithSettings(workspaceId, userId);
  if (!agent) throw new NotFoundError(`no agent ${userId} in this workspace`);
  return view(agent, ports.clock.now(), policyFrom(ports.config, settings));
}

/**
 * Sets a teammate's chosen status. Present: published with reason `admin` and `by`; offline: the
 * choice is stored and comes back when they do. Replies with the agent's presence after it.
 */
export async function setAgentStatus(
  ports: Ports,
  principal: Principal,
  workspaceId: string,
  userId: string,
  choice: { status: ChosenStatus; awayReason: string | null },
): Promise<PresenceView> {
  authorizeSupervisor(principal, workspaceId);
  await mutateAgent(ports, workspaceId, userId, (stored, now, policy) => {
    if (!stored) throw new NotFoundError(`no agent ${userId} in this workspace`);
    assertAwayReason(choice.status, choice.awayReason, policy);
    return decide.adminSetStatus(stored, { chosen: choice.status, awayReason: choice.awayReason, by: principal.userId, now }, policy);
  });
  return presenceOf(ports, workspaceId, userId);
}

/** Signs a teammate out everywhere, as their own logout does, attributed to the admin. Replies with their presence. */
export async function signOutAgent(ports: Ports, principal: Principal, workspaceId: string, userId: string): Promise<PresenceView> {
  authorizeSupervisor(principal, workspaceId);
  // 404 before anything is closed.
  await presenceOf(ports, workspaceId, userId);
  await signOut(ports, workspaceId, userId, { by: principal.userId });
  return presenceOf(ports, workspaceId, userId);
}
