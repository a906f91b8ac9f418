/** Ids of users, workspaces and teams: 1 to 128 characters of [A-Za-z0-9_.@:-] (PROTOCOL.md). */
export const ID_PATTERN = /^[A-Za-z0-9_.@:-]{1,128}$/;
export const MAX_NAME_LENGTH = 128;
export const MAX_TEAMS = 50;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}
