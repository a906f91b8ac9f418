/**
 * The entry points of PROTOCOL.md, listed once. The CDK stack creates exactly these routes and the
 * handlers serve exactly these; test/infra/routes.test.ts fails if either drifts from this list.
 */

/** WebSocket message actions: each a route selected on `$request.body.action`, beside $connect, $disconnect and $default. */
export const MESSAGE_ACTIONS = ['heartbeat', 'setStatus', 'subscribe', 'getPresence', 'logout'] as const;
export type MessageAction = (typeof MESSAGE_ACTIONS)[number];

export type HttpMethod = 'GET' | 'PUT' | 'POST';

/** HTTP routes in API Gateway's path syntax; `{ws}` is the workspace, checked against the token's. */
export const HTTP_ROUTES = {
  listAgents: { method: 'GET', path: '/workspaces/{ws}/agents' },
  getAgent: { method: 'GET', path: '/workspaces/{ws}/agents/{userId}' },
  readHistory: { method: 'GET', path: '/workspaces/{ws}/agents/{userId}/history' },
  setAgentStatus: { method: 'PUT', path: '/workspaces/{ws}/agents/{userId}/status' },
  signOutAgent: { method: 'POST', path: '/workspaces/{ws}/agents/{userId}/logout' },
  statusReport: { method: 'GET', path: '/workspaces/{ws}/reports/status' },
  getSettings: { method: 'GET', path: '/workspaces/{ws}/settings' },
  putSettings: { method: 'PUT', path: '/workspaces/{ws}/settings' },
  health: { method: 'GET', path: '/healthz' },
} as const satisfies Record<string, { method: HttpMethod; path: string }>;

export type HttpRouteName = keyof typeof HTTP_ROUTES;
