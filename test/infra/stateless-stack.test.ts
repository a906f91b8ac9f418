/**
 * The stateless stack as synthesized from cdk.json's context (bundling skipped): WebSocket routes and
 * the $connect authorizer, the stage, the HTTP API, the sweeper schedule, the delivery consumer on
 * the table's stream (its event source mapping, filter and dead-letter queue), and for every function
 * its environment and exactly the permissions it needs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Match } from 'aws-cdk-lib/assertions';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { Agent, Transition } from '#domain/agent.ts';
import { DynamoDbPresenceStore } from '#adapters/dynamodb-store.ts';
import { changesOf, noticesOf } from '#handlers/stream.ts';
import { PRESENCE_HANDLERS } from '../../infra/presence-function.ts';
import { removeOutdirs, functionsByHandler, grantsOf, synthPresence } from './cdk-app.ts';

afterAll(removeOutdirs);

const { stateless: template } = synthPresence();
const functions = functionsByHandler(template);

function logicalIdOf(handler: string): string {
  const found = functions.get(handler);
  if (!found) throw new Error(`no function for handler ${handler}`);
  return found.id;
}


/** The functions that post to connections: the message routes (replies to the sender), the stream consumer and fan-out. */
const POSTERS = ['heartbeat', 'setStatus', 'subscribe', 'getPresence', 'logout', 'defaultRoute', 'http', 'stream', 'fanout'];

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
    for (const handler of POSTERS) {
      const env = (functions.get(handler)!.properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
      expect(env.PRESENCE_CALLBACK_URL, handler).toEqual(stageUrl);
    }
  });
});

describe('HTTP API', () => {
  it.each([
    'GET /workspaces/{ws}/agents',
    'GET /workspaces/{ws}/agents/{userId}',
    'GET /workspaces/{ws}/agents/{userId}/history',
    'GET /workspaces/{ws}/reports/status',
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
    expect([...functions.keys()].sort()).toEqual([...PRESENCE_HANDLERS].sort());
  });

  it.each(PRESENCE_HANDLERS)('%s runs Node 22 on arm64 with source maps, Powertools settings, X-Ray tracing and its own log group', (handler) => {
    const properties = functions.get(handler)?.properties as Record<string, unknown> & {
      Environment: { Variables: Record<string, string> };
      LoggingConfig: { LogGroup: { Ref: string } };
    };
    expect(properties.Runtime).toBe('nodejs22.x');
    expect(properties.Architectures).toEqual(['arm64']);
    // The Powertools Tracer records into the segment Lambda opens only when active tracing is on.
    expect(properties.TracingConfig).toEqual({ Mode: 'Active' });
    // Its own entry module, exporting the handler by name: the bundle holds only what it uses.
    expect(properties.Handler).toBe(`index.${handler}`);
    expect(properties.Environment.Variables).toMatchObject({
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'presence-dev',
      POWERTOOLS_METRICS_NAMESPACE: 'Presence',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
    });
    const logGroup = template.toJSON().Resources[properties.LoggingConfig.LogGroup.Ref] as {
      Type: string;
      Properties: { RetentionInDays: number };
    };
    expect(logGroup.Type).toBe('AWS::Logs::LogGroup');
    expect(logGroup.Properties.RetentionInDays).toBe(30);
  });

  const COMMON = ['NODE_OPTIONS', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_TRACER_CAPTURE_RESPONSE'];
  const TIMING = ['PRESENCE_CONNECTION_LEASE_SECONDS', 'PRESENCE_IDLE_TIMEOUT_SECONDS', 'PRESENCE_RECONNECT_GRACE_SECONDS'];
  const POSTS = ['PRESENCE_CALLBACK_URL'];
  const TABLE = ['PRESENCE_TABLE_NAME'];
  const BUS = ['PRESENCE_EVENT_BUS_NAME'];
  const JWT = ['PRESENCE_JWT_SECRET'];
  const SWEEP = ['PRESENCE_SWEEP_INTERVAL_SECONDS', 'PRESENCE_SWEEP_RESERVE_SECONDS', 'PRESENCE_SWEEP_WINDOW_SECONDS'];
  const FANOUT = ['PRESENCE_FANOUT_FUNCTION_NAME', 'PRESENCE_FANOUT_TIMEOUT_MS'];
  const DECIDING = [...TABLE, ...TIMING];

  it.each<[string, string[]]>([
    ['authorizer', JWT],
    ['connect', DECIDING],
    ['disconnect', DECIDING],
    ['heartbeat', [...DECIDING, ...POSTS]],
    ['setStatus', [...DECIDING, ...POSTS]],
    ['logout', [...DECIDING, ...POSTS]],
    ['subscribe', [...DECIDING, ...POSTS]],
    ['getPresence', [...DECIDING, ...POSTS]],
    ['defaultRoute', [...TABLE, ...POSTS]],
    ['onlineAgents', DECIDING],
    ['http', [...DECIDING, ...POSTS, ...JWT]],
    ['sweeper', [...DECIDING, ...SWEEP]],
    ['stream', [...DECIDING, ...POSTS, ...BUS, ...FANOUT]],
    ['fanout', POSTS],
  ])('%s gets only the environment it reads', (handler, expected) => {
    const env = (functions.get(handler)!.properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    expect(Object.keys(env).sort()).toEqual([...COMMON, ...expected].sort());
  });

  it('passes the HS256 secret as a deploy-time dynamic reference, never as text', () => {
    const env = (functions.get('authorizer')!.properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    const secret = JSON.stringify(env.PRESENCE_JWT_SECRET);
    expect(secret).toContain('{{resolve:secretsmanager:');
    expect(secret).toContain('Presence-dev-Stateful');
  });

  const LOGS = ['Allow logs:CreateLogStream on own-log-group', 'Allow logs:PutLogEvents on own-log-group'];
  /** What Tracing.ACTIVE adds: X-Ray's write actions have no resource-level permissions. */
  const XRAY = ['Allow xray:PutTelemetryRecords on any resource', 'Allow xray:PutTraceSegments on any resource'];
  const READ = ['Allow dynamodb:GetItem on table', 'Allow dynamodb:Query on table'];
  /** Read, decide, conditionally write one agent (BatchGetItem of agent and settings, GetItem for leftovers, PutItem). */
  const DECIDE = ['Allow dynamodb:BatchGetItem on table', 'Allow dynamodb:GetItem on table', 'Allow dynamodb:PutItem on table'];
  const QUERY = ['Allow dynamodb:Query on table'];
  const BATCH_WRITE = ['Allow dynamodb:BatchWriteItem on table'];
  const POST = ['Allow execute-api:ManageConnections on connections'];
  const PUBLISH = ['Allow events:PutEvents on bus'];
  const INVOKE = ['Allow lambda:InvokeFunction on fanout'];
  const STREAM_READ = [
    'Allow dynamodb:DescribeStream on stream',
    'Allow dynamodb:GetRecords on stream',
    'Allow dynamodb:GetShardIterator on stream',
    'Allow dynamodb:ListStreams on stream',
  ];
  /** SqsDlq's grant (grantSendMessages) on the delivery dead-letter queue alone. */
  const DLQ_SEND = ['Allow sqs:GetQueueAttributes on dlq', 'Allow sqs:GetQueueUrl on dlq', 'Allow sqs:SendMessage on dlq'];

  it.each<[string, string[]]>([
    ['authorizer', []],
    ['connect', [...DECIDE, ...BATCH_WRITE]],
    ['disconnect', [...DECIDE, ...BATCH_WRITE]],
    ['heartbeat', [...DECIDE, ...POST]],
    ['setStatus', [...DECIDE, ...POST]],
    ['logout', [...DECIDE, ...QUERY, ...BATCH_WRITE, ...POST]],
    ['subscribe', [...READ, 'Allow dynamodb:BatchGetItem on table', 'Allow dynamodb:PutItem on table', 'Allow dynamodb:DeleteItem on table', ...BATCH_WRITE, ...POST]],
    ['getPresence', [...READ, 'Allow dynamodb:BatchGetItem on table', ...POST]],
    ['defaultRoute', POST],
    ['onlineAgents', [...READ, 'Allow dynamodb:Query on index/byStatus']],
    ['http', [...DECIDE, ...QUERY, ...BATCH_WRITE, ...POST, 'Allow dynamodb:Query on index/byStatus']],
    ['sweeper', [...DECIDE, 'Allow dynamodb:Query on index/byDeadline']],
    ['stream', [...DECIDE, ...QUERY, ...BATCH_WRITE, ...POST, ...PUBLISH, ...INVOKE, ...STREAM_READ, ...DLQ_SEND]],
    ['fanout', POST],
  ])('%s may do exactly what it needs, and no wildcard action', (handler, expected) => {
    const grants = grantsOf(template, logicalIdOf(handler));
    expect(grants).toEqual([...LOGS, ...XRAY, ...expected].sort());
    expect(grants.join('\n')).not.toMatch(/ [a-z-]+:\*| \* on/);
  });

  it('leaves delivery to the stream consumer: it alone publishes, invokes the fan-out function and reads the stream', () => {
    const holders = (grant: string) => PRESENCE_HANDLERS.filter((handler) => grantsOf(template, logicalIdOf(handler)).includes(grant)).sort();
    expect(holders(PUBLISH[0]!)).toEqual(['stream']);
    expect(holders(INVOKE[0]!)).toEqual(['stream']);
    for (const grant of [...STREAM_READ, ...DLQ_SEND]) expect(holders(grant), grant).toEqual(['stream']);
    // connect, disconnect and the sweeper only write; the message routes post only replies, http only an admin's sign-out.
    expect(holders(POST[0]!)).toEqual([...POSTERS].sort());
  });

  it('gives the fan-out function a full vCPU, a timeout its sender outwaits, and no table', () => {
    const fanout = functions.get('fanout')?.properties as { MemorySize: number; Timeout: number; Environment: { Variables: Record<string, unknown> } };
    expect(fanout.MemorySize).toBe(1769);
    expect(fanout.Environment.Variables.PRESENCE_TABLE_NAME).toBeUndefined();
    const withFanout = PRESENCE_HANDLERS.filter(
      (handler) => (functions.get(handler)!.properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables.PRESENCE_FANOUT_FUNCTION_NAME,
    );
    expect(withFanout).toEqual(['stream']);
    const env = (functions.get('stream')!.properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    expect(env.PRESENCE_FANOUT_FUNCTION_NAME).toEqual({ Ref: logicalIdOf('fanout') });
    expect(Number(env.PRESENCE_FANOUT_TIMEOUT_MS)).toBeGreaterThan(fanout.Timeout * 1000);
  });

  it('lets nobody invoke online-agents unless configured', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'));
    expect(JSON.stringify(permissions)).not.toContain(`"${logicalIdOf('onlineAgents')}"`);
  });
});

describe('delivery: the stream consumer', () => {
  const mappings = template.findResources('AWS::Lambda::EventSourceMapping');
  const mapping = Object.values(mappings)[0]?.Properties as Record<string, unknown>;
  const [queueId] = Object.keys(template.findResources('AWS::SQS::Queue'));

  it('maps the table\'s stream to the stream function, and nothing else', () => {
    expect(Object.keys(mappings)).toHaveLength(1);
    expect(mapping.FunctionName).toEqual({ Ref: logicalIdOf('stream') });
    const source = JSON.stringify(mapping.EventSourceArn);
    expect(source).toContain('Fn::ImportValue');
    expect(source).toMatch(/PresenceTable[A-Za-z0-9]*StreamArn/);
  });

  it('reads from now, in batches of up to 100 with no batching window, one batch per shard at a time', () => {
    expect(mapping).toMatchObject({
      StartingPosition: 'LATEST',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 0,
      ParallelizationFactor: 1,
    });
  });

  it('retries only what failed, splits failing batches, and gives up after 10 retries or an hour', () => {
    expect(mapping).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 3600,
    });
  });

  it('sends what it gave up on to the delivery dead-letter queue', () => {
    expect(mapping.DestinationConfig).toEqual({ OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } });
  });

  it('keeps the dead-letter queue encrypted, over TLS only, for 14 days', () => {
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('gives the stream function a timeout that outlasts waiting for fan-out chunks', () => {
    const stream = functions.get('stream')?.properties as { Timeout: number; Environment: { Variables: Record<string, unknown> } };
    expect(stream.Timeout).toBe(60);
    expect(stream.Timeout * 1000).toBeGreaterThan(Number(stream.Environment.Variables.PRESENCE_FANOUT_TIMEOUT_MS));
  });

  describe('event filtering', () => {
    const filters = (mapping.FilterCriteria as { Filters: { Pattern: string }[] }).Filters;

    it('invokes the function only for records whose new image has changes or notices', () => {
      expect(filters.map((filter) => JSON.parse(filter.Pattern))).toEqual([
        { dynamodb: { NewImage: { changes: { L: { M: { version: { N: [{ exists: true }] } } } } } } },
        { dynamodb: { NewImage: { notices: { L: { M: { since: { N: [{ exists: true }] } } } } } } },
      ]);
    });

    // The records the real store writes, as the stream carries them, against the pattern; the
    // matcher follows Lambda's (EventBridge's) rules for what the pattern uses: nested keys, a list
    // matches when any element does, `exists` on leaf values.
    const captured: Record<string, unknown>[] = [];
    const store = new DynamoDbPresenceStore({
      client: {
        send: async (command: { input: { Item: Record<string, unknown> } }) => {
          captured.push(command.input.Item);
          return {};
        },
      } as unknown as DynamoDBDocumentClient,
      tableName: 'presence',
      agentRetentionMs: 86_400_000,
    });
    const agent: Agent = {
      workspaceId: 'acme',
      userId: 'ana',
      name: 'Ana',
      teams: ['sales'],
      chosen: 'online',
      awayReason: null,
      by: null,
      unavailableSince: null,
      unavailableNotified: false,
      status: 'online',
      reason: 'connect',
      since: 1_000,
      lastActiveAt: 1_000,
      connections: { c1: 1_000 },
      leaseUntil: 91_000,
      graceUntil: null,
      loggedOut: false,
      version: 3,
    };
    const change: Transition = { workspaceId: 'acme', userId: 'ana', name: 'Ana', teams: ['sales'], status: 'online', previous: 'offline', reason: 'connect', at: 1_000, version: 4 };
    const record = (eventName: DynamoDBRecord['eventName'], item?: Record<string, unknown>): DynamoDBRecord => ({
      eventName,
      dynamodb: {
        Keys: { pk: { S: 'WS#acme' }, sk: { S: 'AGENT#ana' } },
        ...(item ? { NewImage: marshall(item, { removeUndefinedValues: true }) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'] } : {}),
        SequenceNumber: '1',
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    const written = async (write: () => Promise<unknown>) => {
      captured.length = 0;
      await write();
      return captured[0]!;
    };

    it.each<[string, () => Promise<DynamoDBRecord>, boolean]>([
      ['an agent write that committed changes', async () => record('MODIFY', await written(() => store.saveAgent(agent, 91_000, 1_000, [change, { ...change, status: 'away', previous: 'online', reason: 'manual', version: 5 }]))), true],
      ['a first agent write (INSERT) with its connect', async () => record('INSERT', await written(() => store.saveAgent({ ...agent, version: 0 }, 91_000, 1_000, [{ ...change, version: 1 }]))), true],
      ['a lease renewal without changes', async () => record('MODIFY', await written(() => store.saveAgent(agent, 91_000, 1_000))), false],
      [
        'a sweeper write that committed only an AgentUnavailable',
        async () =>
          record('MODIFY', await written(() => store.saveAgent({ ...agent, status: 'away' }, null, 31_000, [], [{ workspaceId: 'acme', userId: 'ana', status: 'away', since: 1_000, at: 31_000 }]))),
        true,
      ],
      ['a settings write, whose changes are timeout changes', async () => record('MODIFY', await written(() => store.putSettings('acme', { idleTimeoutSeconds: 300, changes: [{ previousIdleTimeoutSeconds: 600, changedAt: 1_000 }] }))), false],
      ['a connection item', async () => record('INSERT', await written(() => store.putConnection('acme', { connectionId: 'c1', userId: 'ana', connectedAt: 1_000 }))), false],
      ['a delete (TTL or a gone connection)', async () => record('REMOVE'), false],
    ])('%s: invokes %s, exactly when the consumer finds changes in it', async (_name, make, invokes) => {
      const event = await make();
      // Lambda invokes when any filter matches.
      expect(filters.some((filter) => matchesPattern(JSON.parse(filter.Pattern), event))).toBe(invokes);
      expect(changesOf(event).length + noticesOf(event).length > 0).toBe(invokes);
    });
  });
});

/**
 * The part of Lambda event filtering (EventBridge pattern rules) the stream filter uses: every key of
 * the pattern must match; an array in the record matches when one of its elements does; a leaf rule
 * is a list of values or `{ exists }`, which only a present leaf value (not an object) satisfies.
 */
function matchesPattern(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(value)) return value.some((element) => matchesPattern(pattern, element));
  if (Array.isArray(pattern)) {
    const leaf = value !== undefined && (value === null || typeof value !== 'object');
    return pattern.some((rule) =>
      typeof rule === 'object' && rule !== null && 'exists' in rule ? (rule as { exists: boolean }).exists === leaf : leaf && rule === value,
    );
  }
  if (typeof pattern !== 'object' || pattern === null || typeof value !== 'object' || value === null) return false;
  return Object.entries(pattern).every(([key, sub]) => matchesPattern(sub, (value as Record<string, unknown>)[key]));
}

describe('operations', () => {
  it.each([
    'SweeperErrors',
    'SweeperDurationNearTimeout',
    'FanoutFailures',
    'TableThrottles',
    'AuthorizerErrors',
    'WebSocketErrors',
    'Http5xx',
    'StreamIteratorAge',
    'DeliveryDlqMessages',
  ])('has the %s alarm', (name) => {
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.some((id) => id.startsWith(`PresenceOperations${name}`))).toBe(true);
  });

  it('alarms on a sweeper run near its timeout', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Duration',
      Statistic: 'Maximum',
      Threshold: 63_000,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalIdOf('sweeper') } }],
    });
  });

  it('alarms when the stream consumer falls 30 s behind (maximum iterator age over a minute)', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 30_000,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalIdOf('stream') } }],
    });
  });

  it('alarms as soon as the delivery dead-letter queue holds a message', () => {
    const [queueId] = Object.keys(template.findResources('AWS::SQS::Queue'));
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
    });
  });

  it('alarms on the custom authorizer metric, not on Lambda errors that refused tokens also raise', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Presence',
      MetricName: 'AuthorizerErrors',
      Dimensions: [{ Name: 'service', Value: 'presence-dev' }],
    });
  });

  it('has a dashboard with connections, transitions by reason, fan-out latency, sweep lag and delivery lag', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);
    for (const needle of ['ConnectCount', 'Transitions', 'FanoutLatency', 'SweepLag', 'reason', 'IteratorAge', 'ApproximateNumberOfMessagesVisible']) {
      expect(body).toContain(needle);
    }
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
