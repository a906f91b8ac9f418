import type { Identity } from '#domain/presence.ts';

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
