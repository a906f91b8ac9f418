/** The HTTP API of PROTOCOL.md on API Gateway HTTP API (payload v2) events. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
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
import { assertWorkspace, type TokenVerifier } from '#app/principal.ts';
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

const WORKSPACE_ROUTE = /^\/workspaces\/([^/]+)\/(agents|settings)(?:\/([^/]+))?\/?$/;
const HISTORY_ROUTE = /^\/workspaces\/([^/]+)\/agents\/([^/]+)\/history\/?$/;
const SUPERVISOR_ROUTE = /^\/workspaces\/([^/]+)\/agents\/([^/]+)\/(status|logout)\/?$/;
const REPORT_ROUTE = /^\/workspaces\/([^/]+)\/reports\/status\/?$/;

export function makeHttpHandler(deps: { ports: Ports; verifier: TokenVerifier }) {
  const { ports, verifier } = deps;

  async function route(event: APIGatewayProxyEventV2): Promise<Reply> {
    const method = event.requestContext.http.method.toUpperCase();
    const path = event.rawPath;
    if (path === '/healthz') {
      if (method !== 'GET') throw new MethodNotAllowedError('use GET');
      return { status: 200, body: { ok: true } };
    }
    const history = HISTORY_ROUTE.exec(path);
    if (history) {
      const [, rawWorkspace = '', rawUser = ''] = history;
      const principal = await verifier.verify(bearerToken(event));
      const workspaceId = pathId(rawWorkspace, 'the workspace');
      assertWorkspace(principal, workspaceId);
      if (method !== 'GET') throw new MethodNotAllowedError('use GET');
      const userId = pathId(rawUser, 'the user');
      const query = historyQuerySchema.safeParse(event.queryStringParameters ?? {});
      if (!query.success) throw new InvalidRequestError(describeIssues(query.error));
      const { from = 0, to = ports.clock.now() + 1, next } = query.data;
      return { status: 200, body: await readTimeline(ports, principal, workspaceId, userId, { from, to, next }) };
    }
    const supervisor = SUPERVISOR_ROUTE.exec(path);
    if (supervisor) {
      const [, rawWorkspace = '', rawUser = '', action] = supervisor;
      const principal = await verifier.verify(bearerToken(event));
      const workspaceId = pathId(rawWorkspace, 'the workspace');
      assertWorkspace(principal, workspaceId);
      const userId = pathId(rawUser, 'the user');
      if (action === 'logout') {
        if (method !== 'POST') throw new MethodNotAllowedError('use POST');
        return { status: 200, body: await signOutAgent(ports, principal, workspaceId, userId) };
      }
      if (method !== 'PUT') throw new MethodNotAllowedError('use PUT');
      authorizeSupervisor(principal, workspaceId);
      const body = agentStatusBodySchema.safeParse(readJsonBody(event));
      if (!body.success) throw new InvalidMessageError(describeIssues(body.error));
      const status = chosenStatusSchema.safeParse(body.data.status);
      if (!status.success) throw new InvalidStatusError();
      return { status: 200, body: await setAgentStatus(ports, principal, workspaceId, userId, { status: status.data, awayReason: body.data.awayReason ?? null }) };
    }
    const report = REPORT_ROUTE.exec(path);
    if (report) {
      const principal = await verifier.verify(bearerToken(event));
      const workspaceId = pathId(report[1] ?? '', 'the workspace');
      assertWorkspace(principal, workspaceId);
      if (method !== 'GET') throw new MethodNotAllowedError('use GET');
      const query = reportQuerySchema.safeParse(event.queryStringParameters ?? {});
      if (!query.success) throw new InvalidRequestError(describeIssues(query.error));
      const result = await statusReport(ports, principal, workspaceId, query.data);
      if (wantsCsv(event)) return { status: 200, csv: reportCsv(result), filename: `status-${query.data.from}-${query.data.to}.csv` };
      return { status: 200, body: result };
    }
    const match = WORKSPACE_ROUTE.exec(path);
    if (!match) throw new NotFoundError('no such route');
    const [, rawWorkspace = '', resource, rawUser] = match;
    if (resource === 'settings' && rawUser !== undefined) throw new NotFoundError('no such route');
    // Authentication before anything about the request is revealed.
    const principal = await verifier.verify(bearerToken(event));
    const workspaceId = pathId(rawWorkspace, 'the workspace');
    assertWorkspace(principal, workspaceId);

    if (resource === 'agents') {
      if (method !== 'GET') throw new MethodNotAllowedError('use GET');
      if (rawUser !== undefined) {
        return { status: 200, body: await getAgent(ports, workspaceId, pathId(rawUser, 'the user')) };
      }
      const query = agentsQuerySchema.safeParse(event.queryStringParameters ?? {});
      if (!query.success) throw new InvalidRequestError(describeIssues(query.error));
      const agents = await queryAgents(ports, { workspaceId, status: query.data.status, team: query.data.team });
      return { status: 200, body: { agents } };
    }
    if (method === 'GET') return { status: 200, body: await getSettings(ports, workspaceId) };
    if (method === 'PUT') {
      authorizeSettingsChange(principal, workspaceId);
      const body = settingsBodySchema.safeParse(readJsonBody(event));
      if (!body.success) throw new InvalidMessageError(describeIssues(body.error));
      return { status: 200, body: await putSettings(ports, principal, body.data) };
    }
    throw new MethodNotAllowedError('use GET or PUT');
  }

  return async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      return reply(await route(event));
    } catch (error) {
      return reply(errorReply(error, ports.logger));
    }
  };
}
