/**
 * The stateless stack as synthesized from cdk.json's context (bundling skipped): WebSocket routes and
 * the $connect authorizer, the stage, the HTTP API, the sweeper schedule, and for every function its
 * environment and exactly the permissions it needs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Match } from 'aws-cdk-lib/assertions';
import { removeOutdirs, functionsByHandler, grantsOf, synthPresence } from './cdk-app.ts';

afterAll(removeOutdirs);

const { stateless: template } = synthPresence();
const functions = functionsByHandler(template);

function logicalIdOf(handler: string): string {
  const found = functions.get(handler);
  if (!found) throw new Error(`no function for handler ${handler}`);
  return found.id;
}

const HANDLERS = [
  'authorizer',
  'connect',
  'disconnect',
  'heartbeat',
  'setStatus',
  'subscribe',
  'getPresence',
  'logout',
  'defaultRoute',
  'onlineAgents',
  'http',
  'sweeper',
  'fanout',
];

describe('WebSocket API', () => {
  it('selects routes by the action field', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it.each([
    ['$connect', 'connect'],
    ['$disconnect', 'disconnect'],
    ['$default', 'defaultRoute'],
    ['heartbeat', 'heartbeat'],
    ['setStatus', 'setStatus'],
    ['subscribe', 'subscribe'],
    ['getPresence', 'getPresence'],
    ['logout', 'logout'],
  ])('routes %s to the %s function', (routeKey, handler) => {
    const routes = template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } });
    expect(Object.keys(routes)).toHaveLength(1);
    const target = JSON.stringify(Object.values(routes)[0]?.Properties.Target);
    const integrationId = /"Ref":"([^"]+)"/.exec(target)?.[1] ?? '';
    const integration = template.toJSON().Resources[integrationId] as { Properties: { IntegrationUri: unknown } };
    expect(JSON.stringify(integration.Properties.IntegrationUri)).toContain(`"${logicalIdOf(handler)}","Arn"`);
  });

  it('has exactly the seven WebSocket routes of the protocol', () => {
    const keys = Object.values(template.findResources('AWS::ApiGatewayV2::Route'))
      .map((route) => route.Properties.RouteKey as string)
      .filter((key) => !key.includes(' /'));
    expect(keys.sort()).toEqual(['$connect', '$default', '$disconnect', 'getPresence', 'heartbeat', 'logout', 'setStatus', 'subscribe']);
  });

  it('authorizes $connect only, from the token query parameter, with the authorizer function', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.token'],
    });
    const authorizer = template.findResources('AWS::ApiGatewayV2::Authorizer');
    expect(JSON.stringify(authorizer)).toContain(`"${logicalIdOf('authorizer')}","Arn"`);
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    const authorized = routes.filter((route) => route.Properties.AuthorizationType === 'CUSTOM');
    expect(authorized.map((route) => route.Properties.RouteKey)).toEqual(['$connect']);
  });

  it('deploys a stage with access logs and throttling', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'dev',
      AutoDeploy: true,
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
    });
  });

  it('gives the posting functions the callback URL of the stage, not one built from events', () => {
    const apiId = Object.keys(template.findResources('AWS::ApiGatewayV2::Api', { Properties: { ProtocolType: 'WEBSOCKET' } }))[0];
    const stageUrl = {
      'Fn::Join': ['', ['https://', { Ref: apiId }, '.execute-api.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/dev']],
    };
    for (const handler of ['connect', 'disconnect', 'heartbeat', 'setStatus', 'subscribe', 'getPresence', 'logout', 'defaultRoute', 'http', 'sweeper', 'fanout']) {
      const env = (functions.get(handler)?.properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
      expect(env.PRESENCE_CALLBACK_URL, handler).toEqual(stageUrl);
    }
  });
});

describe('HTTP API', () => {
  it.each([
    'GET /workspaces/{ws}/agents',
    'GET /workspaces/{ws}/agents/{userId}',
    'GET /workspaces/{ws}/settings',
    'PUT /workspaces/{ws}/settings',
    'GET /healthz',
  ])('routes %s to the http function, which verifies the token itself', (routeKey) => {
    const routes = template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } });
    expect(Object.keys(routes)).toHaveLength(1);
    expect(Object.values(routes)[0]?.Properties.AuthorizationType ?? 'NONE').toBe('NONE');
  });

  it('serves on the $default stage (the handler routes on rawPath) with access logs and throttling', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
    });
  });
});

describe('sweeper', () => {
  it('runs every minute from EventBridge Scheduler', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalIdOf('sweeper'), 'Arn'] } }),
    });
  });

  it('runs alone, with a timeout of its window plus its reserve', () => {
    const sweeper = functions.get('sweeper')?.properties as {
      ReservedConcurrentExecutions: number;
      Timeout: number;
      Environment: { Variables: Record<string, string> };
    };
    expect(sweeper.ReservedConcurrentExecutions).toBe(1);
    const env = sweeper.Environment.Variables;
    expect(Number(env.PRESENCE_SWEEP_WINDOW_SECONDS)).toBe(60);
    expect(sweeper.Timeout).toBe(Number(env.PRESENCE_SWEEP_WINDOW_SECONDS) + Number(env.PRESENCE_SWEEP_RESERVE_SECONDS));
  });
});

describe('presence functions', () => {
  it('are all there, one per Lambda entry', () => {
    expect([...functions.keys()].sort()).toEqual([...HANDLERS].sort());
  });

  it.each(HANDLERS)('%s runs Node 22 on arm64 with source maps, Powertools settings and its own log group', (handler) => {
    const properties = functions.get(handler)?.properties as Record<string, unknown> & {
      Environment: { Variables: Record<string, string> };
      LoggingConfig: { LogGroup: { Ref: string } };
    };
    expect(properties.Runtime).toBe('nodejs22.x');
    expect(properties.Architectures).toEqual(['arm64']);
    expect(properties.Environment.Variables).toMatchObject({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'presence-dev',
      POWERTOOLS_METRICS_NAMESPACE: 'Presence',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    const logGroup = template.toJSON().Resources[properties.LoggingConfig.LogGroup.Ref] as {
      Type: string;
      Properties: { RetentionInDays: number };
    };
    expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
    expect(logGroup.Properties.RetentionInDays).toBe(30);
  });

  const COMMON = ['NODE_OPTIONS', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME'];
  const TIMING = ['PRESENCE_CONNECTION_LEASE_SECONDS', 'PRESENCE_IDLE_TIMEOUT_SECONDS', 'PRESENCE_RECONNECT_GRACE_SECONDS'];
  const POSTS = ['PRESENCE_CALLBACK_URL'];
  const TABLE = ['PRESENCE_TABLE_NAME'];
  const BUS = ['PRESENCE_EVENT_BUS_NAME'];
  const JWT = ['PRESENCE_JWT_SECRET'];
  const SWEEP = ['PRESENCE_SWEEP_INTERVAL_SECONDS', 'PRESENCE_SWEEP_RESERVE_SECONDS', 'PRESENCE_SWEEP_WINDOW_SECONDS'];
  const FANOUT = ['PRESENCE_FANOUT_FUNCTION_NAME', 'PRESENCE_FANOUT_TIMEOUT_MS'];
  const MUTATING = [...TABLE, ...TIMING, ...POSTS, ...BUS, ...FANOUT];

  it.each<[string, string[]]>([
    ['authorizer', JWT],
    ['connect', MUTATING],
    ['disconnect', MUTATING],
    ['heartbeat', MUTATING],
    ['setStatus', MUTATING],
    ['logout', MUTATING],
    ['subscribe', [...TABLE, ...TIMING, ...POSTS]],
    ['getPresence', [...TABLE, ...TIMING, ...POSTS]],
    ['defaultRoute', [...TABLE, ...POSTS]],
    ['onlineAgents', [...TABLE, ...TIMING]],
    ['http', [...MUTATING, ...JWT]],
    ['sweeper', [...MUTATING, ...SWEEP]],
    ['fanout', POSTS],
  ])('%s gets only the environment it reads', (handler, expected) => {
    const env = (functions.get(handler)?.properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    expect(Object.keys(env).sort()).toEqual([...COMMON, ...expected].sort());
  });

  it('passes the HS256 secret as a deploy-time dynamic reference, never as text', () => {
    const env = (functions.get('authorizer')?.properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    const secret = JSON.stringify(env.PRESENCE_JWT_SECRET);
    expect(secret).toContain('{{resolve:secretsmanager:');
    expect(secret).toContain('Presence-dev-Stateful');
  });

  const LOGS = ['Allow logs:CreateLogStream on own-log-group', 'Allow logs:PutLogEvents on own-log-group'];
  const READ = ['Allow dynamodb:GetItem on table', 'Allow dynamodb:Query on table'];
  const WRITE = ['Allow dynamodb:BatchWriteItem on table', 'Allow dynamodb:PutItem on table'];
  const POST = ['Allow execute-api:ManageConnections on connections'];
  const PUBLISH = ['Allow events:PutEvents on bus'];
  const INVOKE = ['Allow lambda:InvokeFunction on fanout'];
  const MUTATE = [...READ, 'Allow dynamodb:BatchGetItem on table', ...WRITE, ...POST, ...PUBLISH, ...INVOKE];

  it.each<[string, string[]]>([
    ['authorizer', []],
    ['connect', MUTATE],
    ['disconnect', MUTATE],
    ['heartbeat', MUTATE],
    ['setStatus', MUTATE],
    ['logout', MUTATE],
    ['subscribe', [...READ, 'Allow dynamodb:BatchGetItem on table', 'Allow dynamodb:PutItem on table', ...POST]],
    ['getPresence', [...READ, 'Allow dynamodb:BatchGetItem on table', ...POST]],
    ['defaultRoute', POST],
    ['onlineAgents', [...READ, 'Allow dynamodb:Query on index/byStatus']],
    ['http', [...MUTATE, 'Allow dynamodb:Query on index/byStatus']],
    ['sweeper', [...MUTATE, 'Allow dynamodb:Query on index/byDeadline']],
    ['fanout', POST],
  ])('%s may do exactly what it needs, and no wildcard action', (handler, expected) => {
    const grants = grantsOf(template, logicalIdOf(handler));
    expect(grants).toEqual([...LOGS, ...expected].sort());
    expect(grants.join('\n')).not.toMatch(/ [a-z-]+:\*| \* on/);
  });

  it('gives the fan-out function a full vCPU, a timeout its senders outwait, and no table', () => {
    const fanout = functions.get('fanout')?.properties as { MemorySize: number; Timeout: number };
    expect(fanout.MemorySize).toBe(1769);
    for (const handler of ['connect', 'heartbeat', 'sweeper', 'http']) {
      const env = (functions.get(handler)?.properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
      expect(env.PRESENCE_FANOUT_FUNCTION_NAME, handler).toEqual({ Ref: logicalIdOf('fanout') });
      expect(Number(env.PRESENCE_FANOUT_TIMEOUT_MS), handler).toBeGreaterThan(fanout.Timeout * 1000);
    }
  });

  it('lets nobody invoke online-agents unless configured', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    expect(JSON.stringify(permissions)).not.toContain(`"${logicalIdOf('onlineAgents')}"`);
  });
});

describe('operations', () => {
  it.each([
    'SweeperErrors',
    'SweeperDurationNearTimeout',
    'FanoutFailures',
    'TableThrottles',
    'AuthorizerErrors',
    'WebSocketErrors',
    'Http5xx',
  ])('has the %s alarm', (name) => {
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.some((id) => id.startsWith(`Operations${name}`))).toBe(true);
  });

  it('alarms on a sweeper run near its timeout', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Duration',
      Statistic: 'Maximum',
      Threshold: 63_000,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalIdOf('sweeper') } }],
    });
  });

  it('alarms on the custom authorizer metric, not on Lambda errors that refused tokens also raise', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Presence',
      MetricName: 'AuthorizerErrors',
      Dimensions: [{ Name: 'service', Value: 'presence-dev' }],
    });
  });

  it('has a dashboard with connections, transitions by reason, fan-out latency and sweep lag', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);
    for (const needle of ['ConnectCount', 'Transitions', 'FanoutLatency', 'SweepLag', 'reason']) expect(body).toContain(needle);
    expect(dashboards[0]?.Properties.DashboardName).toBeUndefined();
  });

  it('sends no alarm anywhere unless a topic is configured', () => {
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
    }
  });
});

describe('outputs', () => {
  it('gives the wss URL, the HTTP URL, the bus name and the online-agents function', () => {
    const outputs = Object.keys(template.toJSON().Outputs ?? {});
    expect(outputs).toEqual(expect.arrayContaining(['WebSocketUrl', 'HttpApiUrl', 'EventBusName', 'OnlineAgentsFunctionArn']));
  });
});
