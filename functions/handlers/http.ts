/** The HTTP API of PROTOCOL.md on API Gateway HTTP API (payload v2) events. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { z } from 'zod';
import {
  InvalidJsonError,
  InvalidMessageError,
  InvalidStatusError,
  InvalidRequestError,
  NotFoundError,
  PresenceError,
  UnauthorizedError,
} from '#app/errors.ts';
import { getAgent, queryAgents } from '#app/agents.ts';
import type { Ports } from '#app/ports.ts';
import { assertWorkspace, type Principal, type TokenVerifier } from '#app/principal.ts';
import { HTTP_ROUTES, type HttpRouteName } from '#app/routes.ts';
import { readTimeline } from '#app/history.ts';
import { reportCsv, statusReport } from '#app/report.ts';
import { authorizeSettingsChange, getSettings, putSettings } from '#app/settings.ts';
import { idSchema } from '#app/claims.ts';
import { errorReply } from '#handlers/errors.ts';
import {
  agentStatusBodySchema,
  agentsQuerySchema,
  chosenStatusSchema,
  describeIssues,
  historyQuerySchema,
  reportQuerySchema,
  settingsBodySchema,
} from '#handlers/schemas.ts';
import { authorizeSupervisor, setAgentStatus, signOutAgent } from '#app/supervisor.ts';

const MAX_BODY_BYTES = 16 * 1024;

class PayloadTooLargeError extends PresenceError {
  override readonly name = 'PayloadTooLargeError';
  readonly code = 'payload_too_large';
  readonly httpStatus = 413;
}

class MethodNotAllowedError extends PresenceError {
  override readonly name = 'MethodNotAllowedError';
  readonly code = 'method_not_allowed';
  readonly httpStatus = 405;
}

type Reply = { status: number; body: unknown } | { status: number; csv: string; filename: string };

function reply(result: Reply): APIGatewayProxyStructuredResultV2 {
  if ('csv' in result) {
    return {
      statusCode: result.status,
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="${result.filename}"`,
        'cache-control': 'no-store',
      },
      body: result.csv,
    };
  }
  return {
    statusCode: result.status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(result.body),
  };
}

/** The client asked for CSV (`Accept: text/csv`). */
function wantsCsv(event: APIGatewayProxyEventV2): boolean {
  const accept = event.headers?.accept ?? event.headers?.Accept ?? '';
  return /(^|,)\s*text\/csv\b/i.test(accept);
}

function bearerToken(event: APIGatewayProxyEventV2): string {
  const header = event.headers?.authorization ?? event.headers?.Authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match?.[1]) throw new UnauthorizedError('an Authorization: Bearer <token> header is required');
  return match[1];
}

function pathId(raw: string, what: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new InvalidRequestError(`${what} is not a valid id`);
  }
  if (!idSchema.safeParse(decoded).success) throw new InvalidRequestError(`${what} is not a valid id`);
  return decoded;
}

function readJsonBody(event: APIGatewayProxyEventV2): unknown {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new PayloadTooLargeError(`the body exceeds ${MAX_BODY_BYTES} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidJsonError('the body is not valid JSON');
  }
}

/** One path of HTTP_ROUTES with every route (method) on it. */
interface RoutePath {
  pattern: RegExp;
  /** The path names `{ws}`: the caller must hold a token for that workspace. */
  inWorkspace: boolean;
  routes: HttpRouteName[];
}

/** HTTP_ROUTES grouped by path, each path as a pattern capturing its `{name}` parameters (a trailing slash is accepted). */
const ROUTE_PATHS: RoutePath[] = (() => {
  const byPath = new Map<string, RoutePath>();
  for (const [name, { path }] of Object.entries(HTTP_ROUTES) as [HttpRouteName, (typeof HTTP_ROUTES)[HttpRouteName]][]) {
    let entry = byPath.get(path);
    if (!entry) {
      const pattern = new RegExp(`^${path.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}/?$`);
      entry = { pattern, inWorkspace: path.includes('{ws}'), routes: [] };
      byPath.set(path, entry);
    }
    entry.routes.push(name);
  }
  return [...byPath.values()];
})();

/** The path of HTTP_ROUTES that `rawPath` is on, with its parameters. */
function matchPath(rawPath: string): { path: RoutePath; params: Record<string, string> } | undefined {
  for (const path of ROUTE_PATHS) {
    const match = path.pattern.exec(rawPath);
    if (match) return { path, params: match.groups ?? {} };
  }
  return undefined;
}

/** The query string parsed by `schema`; a bad one is the caller's mistake (invalid_request). */
function query<T>(schema: z.ZodType<T>, event: APIGatewayProxyEventV2): T {
  const parsed = schema.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error));
  return parsed.data;
}

/** The JSON body parsed by `schema`; a bad field is invalid_message, as on the WebSocket. */
function body<T>(schema: z.ZodType<T>, event: APIGatewayProxyEventV2): T {
  const parsed = schema.safeParse(readJsonBody(event));
  if (!parsed.success) throw new InvalidMessageError(describeIssues(parsed.error));
  return parsed.data;
}

/** What a route's handler gets: the caller, verified and checked against the workspace in the path. */
interface RouteRequest {
  event: APIGatewayProxyEventV2;
  principal: Principal;
  workspaceId: string;
  /** The `{userId}` in the path, checked against the id rule. */
  userId(): string;
}

export function makeHttpHandler(deps: { ports: Ports; verifier: TokenVerifier }) {
  const { ports, verifier } = deps;

  const serve = {
    listAgents: async ({ event, workspaceId }) => {
      const { status, team } = query(agentsQuerySchema, event);
      return { status: 200, body: { agents: await queryAgents(ports, { workspaceId, status, team }) } };
    },
    getAgent: async ({ workspaceId, userId }) => ({ status: 200, body: await getAgent(ports, workspaceId, userId()) }),
    readHistory: async ({ event, principal, workspaceId, userId }) => {
      const user = userId();
      const { from = 0, to = ports.clock.now() + 1, next } = query(historyQuerySchema, event);
      return { status: 200, body: await readTimeline(ports, principal, workspaceId, user, { from, to, next }) };
    },
    setAgentStatus: async ({ event, principal, workspaceId, userId }) => {
      const user = userId();
      authorizeSupervisor(principal, workspaceId);
      const change = body(agentStatusBodySchema, event);
      const status = chosenStatusSchema.safeParse(change.status);
      if (!status.success) throw new InvalidStatusError();
      return { status: 200, body: await setAgentStatus(ports, principal, workspaceId, user, { status: status.data, awayReason: change.awayReason ?? null }) };
    },
    signOutAgent: async ({ principal, workspaceId, userId }) => ({ status: 200, body: await signOutAgent(ports, principal, workspaceId, userId()) }),
    statusReport: async ({ event, principal, workspaceId }) => {
      const parameters = query(reportQuerySchema, event);
      const result = await statusReport(ports, principal, workspaceId, parameters);
      if (wantsCsv(event)) return { status: 200, csv: reportCsv(result), filename: `status-${parameters.from}-${parameters.to}.csv` };
      return { status: 200, body: result };
    },
    getSettings: async ({ workspaceId }) => ({ status: 200, body: await getSettings(ports, workspaceId) }),
    putSettings: async ({ event, principal, workspaceId }) => {
      authorizeSettingsChange(principal, workspaceId);
      return { status: 200, body: await putSettings(ports, principal, body(settingsBodySchema, event)) };
    },
  } satisfies Record<Exclude<HttpRouteName, 'health'>, (request: RouteRequest) => Promise<Reply>>;

  async function route(event: APIGatewayProxyEventV2): Promise<Reply> {
    const method = event.requestContext.http.method.toUpperCase();
    const found = matchPath(event.rawPath);
    if (!found) throw new NotFoundError('no such route');
    const { path, params } = found;
    const name = path.routes.find((candidate) => HTTP_ROUTES[candidate].method === method);
    const methodNotAllowed = () => new MethodNotAllowedError(`use ${path.routes.map((candidate) => HTTP_ROUTES[candidate].method).join(' or ')}`);
    if (!path.inWorkspace) {
      // /healthz, the one route outside a workspace, is anonymous.
      if (name !== 'health') throw methodNotAllowed();
      return { status: 200, body: { ok: true } };
    }
    // Authentication before anything about the request is revealed.
    const principal = await verifier.verify(bearerToken(event));
    const workspaceId = pathId(params.ws ?? '', 'the workspace');
    assertWorkspace(principal, workspaceId);
    if (!name || name === 'health') throw methodNotAllowed();
    return serve[name]({ event, principal, workspaceId, userId: () => pathId(params.userId ?? '', 'the user') });
  }

  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      return reply(await route(event));
    } catch (error) {
      return reply(errorReply(error, ports.logger));
    }
  };
}
