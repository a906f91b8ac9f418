/** Development tokens signed with the local stack's HS256 secret (`npm run token`, the page's sign-in). */
import { SignJWT } from 'jose';
import { z } from 'zod';
import { ID_PATTERN, MAX_NAME_LENGTH, MAX_TEAMS, MAX_TEAMS_CHARACTERS, NAME_PATTERN, teamsWithinLimits } from '#domain/ids.ts';

/** The secret `npm start` uses when PRESENCE_JWT_SECRET is unset; printed with a warning. */
export const DEV_JWT_SECRET = 'presence-local-development-secret-not-for-production';

const id = z.string().regex(ID_PATTERN, 'must be 1 to 128 characters of A-Z a-z 0-9 _ . @ : -');

export const tokenRequestSchema = z.strictObject({
  workspace: id,
  user: id,
  name: z.string().min(1).max(MAX_NAME_LENGTH).regex(NAME_PATTERN, 'must have no control characters').optional(),
  teams: z
    .array(id)
    .refine(teamsWithinLimits, `at most ${MAX_TEAMS} team ids of at most ${MAX_TEAMS_CHARACTERS} characters in all`)
    .optional(),
  role: z.enum(['agent', 'admin', 'service']).optional(),
  /** Seconds until expiry; at most 30 days. */
  expiresIn: z.number().int().min(1).max(30 * 86_400).optional(),
});

export type TokenRequest = z.infer<typeof tokenRequestSchema>;

export interface SigningSettings {
  secret: string;
  /** Set when the stack checks PRESENCE_JWT_ISSUER / PRESENCE_JWT_AUDIENCE. */
  issuer?: string | undefined;
  audience?: string | undefined;
}

export async function mintToken(request: TokenRequest, signing: SigningSettings, nowMs = Date.now()): Promise<string> {
  const claims: Record<string, unknown> = { workspace: request.workspace };
  if (request.name !== undefined) claims.name = request.name;
  if (request.teams !== undefined) claims.teams = request.teams;
  if (request.role !== undefined) claims.role = request.role;
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' });
  if (signing.issuer) jwt.setIssuer(signing.issuer);
  if (signing.audience) jwt.setAudience(signing.audience);
  return jwt
    .setSubject(request.user)
    .setIssuedAt(Math.floor(nowMs / 1000))
    .setExpirationTime(Math.floor(nowMs / 1000) + (request.expiresIn ?? 12 * 3600))
    .sign(new TextEncoder().encode(signing.secret));
}
