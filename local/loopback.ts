/**
 * The local stack answers only requests addressed to this machine: a `Host` that is a loopback
 * name or address, and (for the WebSocket handshake) a browser `Origin` that is the team page's
 * own. So a page on another site, even one whose name resolves to 127.0.0.1 (DNS rebinding),
 * cannot use the stack through the developer's browser.
 */

/** `localhost`, any 127.x.y.z, or ::1, with or without a port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  if (name.toLowerCase() === 'localhost' || name === '::1') return true;
  const octets = name.split('.');
  return octets.length === 4 && octets[0] === '127' && octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255);
}

/** The origins the team page at `httpUrl` is served from (127.0.0.1, localhost, [::1] on its port). */
export function pageOrigins(httpUrl: string): string[] {
  const { port } = new URL(httpUrl);
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`];
}

export const MISDIRECTED = {
  status: 421,
  body: { error: { code: 'misdirected_request', message: 'this server answers only to a loopback host (localhost, 127.0.0.1 or [::1])' } },
} as const;
