/**
 * Token verification from configuration, in a module of its own so the functions that verify
 * tokens (the authorizer, the HTTP API) bundle jose and nothing of DynamoDB's.
 */
import { type JwtSettings, makeJwtVerifier } from '#adapters/jwt.ts';
import { ConfigurationError } from '#app/errors.ts';
import type { TokenVerifier } from '#app/principal.ts';

type Env = Record<string, string | undefined>;

export function jwtSettingsFromEnv(env: Env): JwtSettings {
  const issuer = env.PRESENCE_JWT_ISSUER || undefined;
  const audience = env.PRESENCE_JWT_AUDIENCE || undefined;
  if (env.PRESENCE_JWKS_URL) return { mode: 'jwks', jwksUrl: env.PRESENCE_JWKS_URL, issuer, audience };
  if (env.PRESENCE_JWT_SECRET) {
    if (env.PRESENCE_JWT_SECRET.length < 32) {
      throw new ConfigurationError('PRESENCE_JWT_SECRET must be at least 32 characters');
    }
    return { mode: 'secret', secret: env.PRESENCE_JWT_SECRET, issuer, audience };
  }
  throw new ConfigurationError('set PRESENCE_JWT_SECRET (HS256) or PRESENCE_JWKS_URL (RS256/ES256)');
}

export function verifierFromEnv(env: Env): TokenVerifier {
  return makeJwtVerifier(jwtSettingsFromEnv(env));
}
