/**
 * makeJwtVerifier against the Authentication section of PROTOCOL.md: HS256 with a shared secret,
 * RS256/ES256 from a JWKS URL, issuer and audience when configured, and the claim rules.
 * Tokens are minted with jose; the JWKS is served by a local HTTP server on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CryptoKey, decodeJwt, exportJWK, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import { makeJwtVerifier } from '#adapters/jwt.ts';
import { MAX_NAME_LENGTH, MAX_TEAMS, MAX_TOKEN_LENGTH } from '#domain/ids.ts';
import { REFUSED_TOKEN_MESSAGE, UnauthorizedError } from '#app/errors.ts';

const SECRET = 'unit-test-secret-0123456789abcdef-0123456789';
const OTHER_SECRET = 'another-unit-test-secret-0123456789abcdef';

/** Seconds since the epoch, relative to now: jose checks `exp` against the real clock. */
const inSeconds = (seconds: number): number => Math.floor(Date.now() / 1000) + seconds;

const baseClaims: JWTPayload = { workspace: 'acme' };

interface MintOptions {
  sub?: string | undefined;
  exp?: number | undefined;
  issuer?: string;
  audience?: string;
}

/** Signs `claims` with HS256 and `secret`; `sub` defaults to alice and `exp` to an hour from now. */
async function hs256(claims: JWTPayload = baseClaims, options: MintOptions = {}, secret = SECRET): Promise<string> {
  return sign(new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }), options, new TextEncoder().encode(secret));
}

async function signWith(alg: 'RS256' | 'ES256', key: CryptoKey, kid: string, claims: JWTPayload = baseClaims, options: MintOptions = {}): Promise<string> {
  return sign(new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }), options, key);
}

async function sign(jwt: SignJWT, options: MintOptions, key: CryptoKey | Uint8Array): Promise<string> {
  const sub = 'sub' in options ? options.sub : 'alice';
  const exp = 'exp' in options ? options.exp : inSeconds(3600);
  jwt.setIssuedAt();
  if (sub !== undefined) jwt.setSubject(sub);
  if (exp !== undefined) jwt.setExpirationTime(exp);
  if (options.issuer) jwt.setIssuer(options.issuer);
  if (options.audience) jwt.setAudience(options.audience);
  return jwt.sign(key);
}

const teams = (count: number): string[] => Array.from({ length: count }, (_, index) => `team-${index}`);

describe('HS256 with a shared secret', () => {
  const verifier = makeJwtVerifier({ mode: 'secret', secret: SECRET });

  it('accepts a valid token and fills the defaults: name = sub, no teams, role agent', async () => {
    // Prepare
    const token = await hs256();

    // Act
    const principal = await verifier.verify(token);

    // Assess
    expect(principal).toEqual({ userId: 'alice', workspaceId: 'acme', name: 'alice', teams: [], role: 'agent', expiresAt: decodeJwt(token).exp! * 1000 });
  });

  it('returns the name, teams and role of the token', async () => {
    // Prepare
    const token = await hs256({ workspace: 'acme', name: 'Alice Liddell', teams: ['sales', 'vip'], role: 'admin' });

    // Act
    const principal = await verifier.verify(token);

    // Assess
    expect(principal).toEqual({
      userId: 'alice',
      workspaceId: 'acme',
      name: 'Alice Liddell',
      teams: ['sales', 'vip'],
      role: 'admin',
      // The token's end, which the WebSocket routes hold a connection to.
      expiresAt: decodeJwt(token).exp! * 1000,
    });
  });

  it.each([
    { behaviour: 'an id of every allowed character', claims: { workspace: 'acme-1.eu_west:prod' }, sub: 'alice.b_c-d@example.com:42' },
    { behaviour: 'ids of exactly 128 characters', claims: { workspace: 'w'.repeat(128) }, sub: 'a'.repeat(128) },
    { behaviour: 'a name of exactly 128 characters', claims: { ...baseClaims, name: 'N'.repeat(128) }, sub: 'alice' },
    { behaviour: 'exactly 50 teams', claims: { ...baseClaims, teams: teams(50) }, sub: 'alice' },
    { behaviour: 'role service', claims: { ...baseClaims, role: 'service' }, sub: 'alice' },
  ])('accepts $behaviour', async ({ claims, sub }) => {
    // Prepare
    const token = await hs256(claims, { sub });

    // Act
    const principal = await verifier.verify(token);

    // Assess
    expect(principal.userId).toBe(sub);
    expect(principal.workspaceId).toBe(claims.workspace);
  });

  describe('refuses with UnauthorizedError', () => {
    const refused: { behaviour: string; token: () => Promise<string> }[] = [
      { behaviour: 'an expired token', token: () => hs256(baseClaims, { exp: inSeconds(-120) }) },
      { behaviour: 'a token signed with another secret', token: () => hs256(baseClaims, {}, OTHER_SECRET) },
      {
        behaviour: 'an unsigned token (alg none)',
        token: async () => new UnsecuredJWT({ ...baseClaims }).setSubject('alice').setExpirationTime(inSeconds(3600)).encode(),
      },
      { behaviour: 'a token without exp', token: () => hs256(baseClaims, { exp: undefined }) },
      { behaviour: 'a token without sub', token: () => hs256(baseClaims, { sub: undefined }) },
      { behaviour: 'a token without workspace', token: () => hs256({}) },
      { behaviour: 'a user id with a slash', token: () => hs256(baseClaims, { sub: 'a/b' }) },
      { behaviour: 'a user id with a hash', token: () => hs256(baseClaims, { sub: 'a#b' }) },
      { behaviour: 'a user id with a space', token: () => hs256(baseClaims, { sub: 'a b' }) },
      { behaviour: 'a user id of 130 characters', token: () => hs256(baseClaims, { sub: 'a'.repeat(130) }) },
      { behaviour: 'a user id of 129 characters', token: () => hs256(baseClaims, { sub: 'a'.repeat(129) }) },
      { behaviour: 'an empty user id', token: () => hs256(baseClaims, { sub: '' }) },
      { behaviour: 'a workspace id with a slash', token: () => hs256({ workspace: 'acme/other' }) },
      { behaviour: 'a workspace id that is not a string', token: () => hs256({ workspace: 42 }) },
      { behaviour: 'a team id with bad characters', token: () => hs256({ ...baseClaims, teams: ['sales', 'a#b'] }) },
      { behaviour: 'teams that are not an array', token: () => hs256({ ...baseClaims, teams: 'sales' }) },
      { behaviour: 'a name over 128 characters', token: () => hs256({ ...baseClaims, name: 'N'.repeat(129) }) },
      { behaviour: '51 teams', token: () => hs256({ ...baseClaims, teams: teams(51) }) },
      { behaviour: 'an unknown role', token: () => hs256({ ...baseClaims, role: 'superuser' }) },
      { behaviour: 'an empty string', token: async () => '' },
      { behaviour: 'a garbage string', token: async () => 'not.a.jwt' },
      { behaviour: 'a string without dots', token: async () => 'garbage' },
      { behaviour: 'a token over 8 KB', token: () => hs256({ ...baseClaims, name: 'x', padding: 'p'.repeat(9000) }) },
      {
        behaviour: 'an RS256 token',
        token: async () => signWith('RS256', (await generateKeyPair('RS256')).privateKey, 'rsa-1'),
      },
    ];

    it.each(refused)('$behaviour', async ({ token }) => {
      // Prepare
      const presented = await token();

      // Act
      const verifying = verifier.verify(presented);

      // Assess
      await expect(verifying).rejects.toBeInstanceOf(UnauthorizedError);
      await expect(verifying).rejects.toMatchObject({ code: 'unauthorized', httpStatus: 401 });
    });
  });

  it('tells the caller only that the token was refused; the reason (expired) is for the log', async () => {
    // Prepare
    const token = await hs256(baseClaims, { exp: inSeconds(-120) });

    // Act
    const verifying = verifier.verify(token);

    // Assess
    await expect(verifying).rejects.toMatchObject({ message: REFUSED_TOKEN_MESSAGE, reason: 'the token has expired' });
  });
});

describe('issuer and audience', () => {
  const ISSUER = 'https://auth.example.com/';
  const AUDIENCE = 'presence';
  const checking = makeJwtVerifier({ mode: 'secret', secret: SECRET, issuer: ISSUER, audience: AUDIENCE });
  const notChecking = makeJwtVerifier({ mode: 'secret', secret: SECRET });

  it('accepts a token with the configured issuer and audience', async () => {
    // Prepare
    const token = await hs256(baseClaims, { issuer: ISSUER, audience: AUDIENCE });

    // Act
    const principal = await checking.verify(token);

    // Assess
    expect(principal).toMatchObject({ userId: 'alice', workspaceId: 'acme' });
  });

  it.each([
    { behaviour: 'another issuer', options: { issuer: 'https://evil.example.com/', audience: AUDIENCE } },
    { behaviour: 'no issuer', options: { audience: AUDIENCE } },
    { behaviour: 'another audience', options: { issuer: ISSUER, audience: 'billing' } },
    { behaviour: 'no audience', options: { issuer: ISSUER } },
  ])('refuses a token with $behaviour when they are configured', async ({ options }) => {
    // Prepare
    const token = await hs256(baseClaims, options);

    // Act
    const verifying = checking.verify(token);

    // Assess
    await expect(verifying).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('ignores issuer and audience when they are not configured', async () => {
    // Prepare
    const token = await hs256(baseClaims, { issuer: 'https://anyone.example.com/', audience: 'anything' });

    // Act
    const principal = await notChecking.verify(token);

    // Assess
    expect(principal).toMatchObject({ userId: 'alice', workspaceId: 'acme' });
  });
});

/** Every claim at its documented maximum (PROTOCOL.md): ids of 128, a name of 128 three-byte characters, 50 teams of 1,000 characters in all. */
const MAX_ISSUER = `https://${'i'.repeat(112)}.example/`;
const MAX_AUDIENCE = 'a'.repeat(128);
const maxClaims: JWTPayload = {
  workspace: 'w'.repeat(128),
  name: '€'.repeat(MAX_NAME_LENGTH),
  teams: Array.from({ length: MAX_TEAMS }, (_, i) => `team-${String(i).padStart(2, '0')}-${'t'.repeat(12)}`),
  role: 'service',
};
const maxOptions: MintOptions = { sub: 's'.repeat(128), issuer: MAX_ISSUER, audience: MAX_AUDIENCE };
/** The longest API Gateway WebSocket URL before the token: a default endpoint with a long region and stage. */
const URL_PREFIX = 'wss://abcdefghij.execute-api.ap-southeast-2.amazonaws.com/production-stage-name?token=';

describe('the claim limits agree with the token limit', () => {
  const verifier = makeJwtVerifier({ mode: 'secret', secret: SECRET, issuer: MAX_ISSUER, audience: MAX_AUDIENCE });

  it('accepts a token with every claim at its maximum, signed HS256, within the token limit and the URL', async () => {
    const token = await hs256(maxClaims, maxOptions);

    await expect(verifier.verify(token)).resolves.toMatchObject({ userId: maxOptions.sub, name: maxClaims.name, role: 'service' });
    expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
    expect(URL_PREFIX.length + token.length).toBeLessThanOrEqual(4096);
  });

  it('refuses teams over 1,000 characters in all, a name with a control character, and a token over the limit', async () => {
    const teams = [...(maxClaims.teams as string[]).slice(0, -1), 't'.repeat(21)];
    await expect(verifier.verify(await hs256({ ...maxClaims, teams }, maxOptions))).rejects.toMatchObject({ reason: 'the token claims are invalid' });
    await expect(verifier.verify(await hs256({ ...baseClaims, name: 'Eve\u0007' }, maxOptions))).rejects.toBeInstanceOf(UnauthorizedError);
    const padded = await hs256({ ...baseClaims, note: 'x'.repeat(MAX_TOKEN_LENGTH) }, maxOptions);
    expect(padded.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    await expect(verifier.verify(padded)).rejects.toMatchObject({ reason: `the token is missing or longer than ${MAX_TOKEN_LENGTH} characters` });
  });
});

describe('RS256 and ES256 from a JWKS URL', () => {
  let server: Server;
  let jwksUrl: string;
  let rsa: CryptoKey;
  let ec: CryptoKey;
  let strangerRsa: CryptoKey;

  beforeAll(async () => {
    const [rsaPair, ecPair, strangerPair] = await Promise.all([
      generateKeyPair('RS256', { extractable: true }),
      generateKeyPair('ES256', { extractable: true }),
      generateKeyPair('RS256', { extractable: true }),
    ]);
    rsa = rsaPair.privateKey;
    ec = ecPair.privateKey;
    strangerRsa = strangerPair.privateKey;
    const jwks = JSON.stringify({
      keys: [
        { ...(await exportJWK(rsaPair.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(ecPair.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      ],
    });
    server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(jwks);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  });

  it.each([
    { alg: 'RS256' as const, kid: 'rsa-1' },
    { alg: 'ES256' as const, kid: 'ec-1' },
  ])('accepts an $alg token signed by a key of the set', async ({ alg, kid }) => {
    // Prepare
    const verifier = makeJwtVerifier({ mode: 'jwks', jwksUrl });
    const token = await signWith(alg, alg === 'RS256' ? rsa : ec, kid, { ...baseClaims, teams: ['sales'] });

    // Act
    const principal = await verifier.verify(token);

    // Assess
    expect(principal).toEqual({ userId: 'alice', workspaceId: 'acme', name: 'alice', teams: ['sales'], role: 'agent', expiresAt: expect.any(Number) });
  });

  it('checks issuer and audience in JWKS mode too', async () => {
    // Prepare
    const verifier = makeJwtVerifier({ mode: 'jwks', jwksUrl, issuer: 'https://auth.example.com/', audience: 'presence' });
    const good = await signWith('RS256', rsa, 'rsa-1', baseClaims, { issuer: 'https://auth.example.com/', audience: 'presence' });
    const wrongAudience = await signWith('RS256', rsa, 'rsa-1', baseClaims, { issuer: 'https://auth.example.com/', audience: 'billing' });

    // Act
    const principal = await verifier.verify(good);
    const refusing = verifier.verify(wrongAudience);

    // Assess
    expect(principal.userId).toBe('alice');
    await expect(refusing).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it.each([
    { behaviour: 'an HS256 token', token: () => hs256() },
    { behaviour: 'a token signed by a key outside the set', token: () => signWith('RS256', strangerRsa, 'stranger-1') },
    { behaviour: 'a token signed by another key under a known kid', token: () => signWith('RS256', strangerRsa, 'rsa-1') },
    { behaviour: 'an ES256 header on the RSA kid', token: () => signWith('ES256', ec, 'rsa-1') },
    { behaviour: 'an expired token from a key of the set', token: () => signWith('ES256', ec, 'ec-1', baseClaims, { exp: inSeconds(-120) }) },
    { behaviour: 'a token of the set without workspace', token: () => signWith('RS256', rsa, 'rsa-1', {}) },
  ])('refuses $behaviour', async ({ token }) => {
    // Prepare
    const verifier = makeJwtVerifier({ mode: 'jwks', jwksUrl });
    const presented = await token();

    // Act
    const verifying = verifier.verify(presented);

    // Assess
    await expect(verifying).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('accepts a token with every claim at its maximum, signed RS256 (2,048-bit key), within the token limit and the URL', async () => {
    const verifier = makeJwtVerifier({ mode: 'jwks', jwksUrl, issuer: MAX_ISSUER, audience: MAX_AUDIENCE });
    const token = await signWith('RS256', rsa, 'rsa-1', maxClaims, maxOptions);

    await expect(verifier.verify(token)).resolves.toMatchObject({ role: 'service', teams: maxClaims.teams });
    expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
    expect(URL_PREFIX.length + token.length).toBeLessThanOrEqual(4096);
  });
});
