/** Ids of users, workspaces, teams and away reasons: 1 to 128 characters of [A-Za-z0-9_.@:-] (PROTOCOL.md). */
export const ID_PATTERN = /^[A-Za-z0-9_.@:-]{1,128}$/;
/** The id rule in words, for error messages. */
export const ID_RULE = 'must be 1 to 128 characters of A-Z a-z 0-9 _ . @ : -';
export const MAX_NAME_LENGTH = 128;
export const MAX_TEAMS = 50;

/** The team ids of one token together: 50 ids of 20 characters, or fewer longer ones. */
export const MAX_TEAMS_CHARACTERS = 1000;

/**
 * A token travels in the WebSocket URL (`?token=`), which API Gateway caps at 4,096 characters;
 * this leaves 512 for the rest of the URL. Every claim at its maximum (ids of 128, a name of 128
 * four-byte characters, teams at their limits, issuer and audience of 128) fits, signed HS256,
 * RS256 with a 2,048-bit key or ES256 (test/unit/jwt.test.ts).
 */
export const MAX_TOKEN_LENGTH = 3584;

/** A display name: 1 to MAX_NAME_LENGTH characters, none of them a control character. */
export const NAME_PATTERN = /^[^\p{Cc}]+$/u;

export function teamsWithinLimits(teams: readonly string[]): boolean {
  return teams.length <= MAX_TEAMS && teams.reduce((sum, team) => sum + team.length, 0) <= MAX_TEAMS_CHARACTERS;
}
