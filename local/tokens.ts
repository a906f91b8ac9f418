/** Development tokens signed with the local stack's HS256 secret (`npm run token`, the page's sign-in). */
import { SignJWT } from 'jose';
import { z } from 'zod';
import { idSchema, nameSchema, roleSchema, teamIdsSchema } from '#app/claims.ts';

/** The secret `npm start` uses when PRESENCE_JWT_SECRET is unset; printed with a warning. */
export const DEV_JWT_SECRET = 'presence-local-development-secret-not-for-production';

export const tokenRequestSchema = z.strictObject({
  workspace: idSchema,
  user: idSchema,
  name: nameSchema.optional(),
  teams: teamIdsSchema.optional(),
  role: roleSchema.optional(),
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
