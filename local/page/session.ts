/**
 * Signing in on the team page: the stack's page config, demo tokens from `POST /dev/token`, pasted
 * tokens, and the session kept per tab in sessionStorage so a reload reconnects.
 */

export interface PageConfig {
  wsUrl: string;
  heartbeatIntervalMs: number;
  devTokens: boolean;
}

export interface Session {
  token: string;
  userId: string;
  workspace: string;
  name: string;
  /** The token's role is admin: the page offers the supervisor controls (the server checks again). */
  admin: boolean;
}

export interface DemoSignIn {
  workspace: string;
  user: string;
  name?: string;
  teams?: string[];
  /** A supervisor: reads every agent's report, sets teammates' status, signs them out. */
  role?: 'admin';
}

/** Something the person signing in can fix; the message is shown as it is. */
export class SignInError extends Error {
  override readonly name = 'SignInError';
}

const STORAGE_KEY = 'presence.session';

export async function loadConfig(): Promise<PageConfig> {
  const response = await fetch('/dev/config');
  if (!response.ok) throw new Error(`GET /dev/config answered ${response.status}`);
  return (await response.json()) as PageConfig;
}

/** The claims the page needs, read without verifying (the server verifies). */
export function decodeToken(token: string): { userId: string; workspace: string; name?: string; role?: string; exp?: number } {
  const payload = token.trim().split('.')[1];
  let claims: unknown;
  try {
    if (payload === undefined) throw new Error('no payload');
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
    claims = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new SignInError('That is not a token: expected a JWT (three base64url parts separated by dots).');
  }
  const { sub, workspace, name, role, exp } = (claims ?? {}) as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof workspace !== 'string') {
    throw new SignInError('The token has no "sub" and "workspace" claims.');
  }
  return {
    userId: sub,
    workspace,
    ...(typeof name === 'string' ? { name } : {}),
    ...(typeof role === 'string' ? { role } : {}),
    ...(typeof exp === 'number' ? { exp } : {}),
  };
}

/** A session for a token, or why the page cannot use it. */
export function sessionFromToken(token: string, nowMs = Date.now()): Session {
  const claims = decodeToken(token);
  if (claims.role === 'service') throw new SignInError('A service token cannot open a WebSocket: use an agent or admin token.');
  if (claims.exp !== undefined && claims.exp * 1000 <= nowMs) throw new SignInError('The token has expired: sign in again.');
  return { token: token.trim(), userId: claims.userId, workspace: claims.workspace, name: claims.name ?? claims.userId, admin: claims.role === 'admin' };
}

/** Asks the local stack for a demo token; its validation message comes back as a SignInError. */
export async function signInWithDemoToken(request: DemoSignIn): Promise<Session> {
  const response = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  const body = (await response.json().catch(() => null)) as { token?: string; error?: { message?: string } } | null;
  if (!response.ok || typeof body?.token !== 'string') {
    throw new SignInError(body?.error?.message ?? `The server answered ${response.status}.`);
  }
  return sessionFromToken(body.token);
}

/**
 * The WebSocket closed before it opened. A browser cannot see the handshake's status, so ask the
 * HTTP API, which verifies tokens the same way: a refusal message, or null when the token is fine
 * (the network or the stack is down: retry).
 */
export async function whyRefused(session: Session): Promise<string | null> {
  try {
    const response = await fetch(`/workspaces/${encodeURIComponent(session.workspace)}/settings`, {
      headers: { authorization: `Bearer ${session.token}` },
    });
    if (response.status !== 401 && response.status !== 403) return null;
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    return `The server refused the token (${response.status}): ${body?.error?.message ?? 'sign in again'}.`;
  } catch {
    return null;
  }
}

/** The token this tab signed in with, if any; the caller checks it with `sessionFromToken`. */
export function storedToken(): string | null {
  try {
    const session = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Partial<Session> | null;
    return typeof session?.token === 'string' ? session.token : null;
  } catch {
    return null;
  }
}

export function rememberSession(session: Session): void {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function forgetSession(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
