/**
 * Subscription scopes: which users' changes a connection receives. Pure rules, no I/O.
 * A scope is a list of team ids (the connection follows those teams and its own user), or null
 * for the whole workspace (the default, and what a wallboard asks for).
 */
export type Scope = readonly string[] | null;

interface Member {
  userId: string;
  teams: readonly string[];
}

/** True when a connection of `viewerUserId` subscribed to `scope` receives changes of `user`. */
export function inScope(scope: Scope, viewerUserId: string, user: Member): boolean {
  if (scope === null || user.userId === viewerUserId) return true;
  return user.teams.some((team) => scope.includes(team));
}

/** A scope as kept and compared: teams deduplicated and sorted; null stays null. */
export function normalizeScope(teams: readonly string[] | null): Scope {
  return teams === null ? null : [...new Set(teams)].sort();
}
