/** Token verification with jose: HS256 with a shared secret, or RS256/ES256 keys from a JWKS URL. */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { UnauthorizedError } from '#app/errors.ts';
import type { Principal, TokenVerifier } from '#app/principal.ts';
import { z } from 'zod';
import { MAX_TOKEN_LENGTH } from '#domain/ids.ts';
import { idSchema, nameSchema, roleSchema, teamIdsSchema } from '#app/claims.ts';

/** The claims of PROTOCOL.md; jose has already checked the signature, `exp` and issuer/audience. */
const claimsSchema = z.object({
  sub: idSchema,
  workspace: idSchema,
  exp: z.number().int(),
  name: nameSchema.optional(),
  teams: teamIdsSchema.optional(),
  role: roleSchema.optional(),
});

export type JwtSettings =
  | { mode: 'secret'; secret: string; issuer?: string | undefined; audience?: string | undefined }
  | { mode: 'jwks'; jwksUrl: string; issuer?: string | undefined; audience?: string | undefined };


export function makeJwtVerifier(settings: JwtSettings): TokenVerifier {
  const key: Uint8Array | JWTVerifyGetKey =
    settings.mode === 'secret' ? new TextEncoder().encode(settings.secret) : createRemoteJWKSet(new URL(settings.jwksUrl));
  const options: JWTVerifyOptions = {
    algorithms: settings.mode === 'secret' ? ['HS256'] : ['RS256', 'ES256'],
    requiredClaims: ['exp', 'sub'],
    ...(settings.issuer ? { issuer: settings.issuer } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
  return {
    async verify(token: string): Promise<Principal> {
      // Longer tokens are refused before any parsing (they could not reach us through API Gateway).
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        throw new UnauthorizedError(`the token is missing or longer than ${MAX_TOKEN_LENGTH} characters`);
      }
      let payload: unknown;
      try {
        // jwtVerify with the key as a function or secret; the overloads need the branch spelled out.
        payload = (typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options))
          .payload;
      } catch (error) {
        throw new UnauthorizedError(describeJoseError(error), { cause: error });
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) throw new UnauthorizedError('the token claims are invalid');
      const { sub, workspace, name, teams, role, exp } = claims.data;
      return { userId: sub, workspaceId: workspace, name: name ?? sub, teams: teams ?? [], role: role ?? 'agent', expiresAt: exp * 1000 };
    },
  };
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return 'the token claims are invalid';
  return 'the token is invalid';
}
