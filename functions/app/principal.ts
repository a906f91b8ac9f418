import type { Identity } from '#domain/agent.ts';
import { ForbiddenError } from '#app/errors.ts';

export const ROLES = ['agent', 'admin', 'service'] as const;
type Role = (typeof ROLES)[number];

/** Who is calling, from a verified token: the workspace always comes from here. */
export interface Principal extends Identity {
  role: Role;
  /** When the token ends (epoch ms, its `exp`); a connection opened with it ends then too. */
  expiresAt?: number | undefined;
}

/** What verifies a token; throws UnauthorizedError for anything it does not accept. */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

/** The workspace a request names must be the token's. */
export function assertWorkspace(principal: Principal, workspaceId: string): void {
  if (principal.workspaceId !== workspaceId) throw new ForbiddenError('the token is not for this workspace');
}

/** Only an admin of the workspace may `act` ("change its settings"). */
export function assertAdmin(principal: Principal, workspaceId: string, act: string): void {
  assertWorkspace(principal, workspaceId);
  if (principal.role !== 'admin') throw new ForbiddenError(`only an admin of the workspace may ${act}`);
}

/** Admins and services read anyone's presence records in their workspace; an agent only their own. */
export function readsAnyone(principal: Principal): boolean {
  return principal.role === 'admin' || principal.role === 'service';
}
