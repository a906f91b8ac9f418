/**
 * PresenceService: the whole presence service as one construct, for this repository's app and for
 * any other CDK app: the table (or yours) and its stream, the event bus (or yours), the WebSocket
 * API and its functions, the HTTP API, the online-agents function, the sweeper schedule, the
 * delivery consumer on the table's stream (with its dead-letter queue), and operations (alarms,
 * dashboard). It makes no stack outputs: its properties are there to output or wire.
 */
import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  WebSocketApi,
  WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { AccountPrincipal, ArnPrincipal, ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HTTP_ROUTES, MESSAGE_ACTIONS } from '../functions/app/routes.ts';
import { PresenceOperations } from './operations.ts';
import { newJwtSecret, newPresenceTable } from './presence-table.ts';
import {
  PresenceFunction,
  type PresenceFunctionProps,
  type PresenceHandler,
  type TableAccess,
  type TableAction,
} from './presence-function.ts';

/** How tokens are verified (docs/PROTOCOL.md, "Tokens"). */
export type PresenceAuth =
  /** HS256 with this secret (its SecretString is the key); without one, the construct creates one (retained on delete). */
  | { mode: 'secret'; secret?: ISecret; issuer?: string; audience?: string }
  /** RS256/ES256 keys from an https:// JWKS URL; issuer and audience are then required. */
  | { mode: 'jwks'; jwksUrl: string; issuer: string; audience: string };

/** Presence timings (README, "Configuration"); each has its default and its allowed range. */
export interface PresenceTimings {
  /** Default 600, from 60 to 86,400: the workspace default; workspaces may set their own. */
  idleTimeoutSeconds?: number;
  /** Default 90, from 30 to 3,600: a connection counts until this long after its last renewal. */
  leaseSeconds?: number;
  /** Default 10, from 0 to the lease: a closed last tab counts as present this long. */
  graceSeconds?: number;
  /** Default 5, from 1 to 30: the sweeper's pass interval inside its one-minute schedule. */
  sweepIntervalSeconds?: number;
}

export const TIMING_LIMITS: Record<keyof PresenceTimings, { default: number; min: number; max: number }> = {
  idleTimeoutSeconds: { default: 600, min: 60, max: 86_400 },
  leaseSeconds: { default: 90, min: 30, max: 3600 },
  graceSeconds: { default: 10, min: 0, max: 3600 },
  // Passes start inside the 1-minute schedule window; 1 s is the finest the core allows here.
  sweepIntervalSeconds: { default: 5, min: 1, max: 30 },
};

export interface PresenceServiceProps {
  auth: PresenceAuth;
  /** Stage name of both APIs and part of names and metrics; default `prod`. A letter, then up to 31 letters, digits or dashes. */
  stage?: string;
  timings?: PresenceTimings;
  /** An existing table made by `newPresenceTable` (same keys, indexes and stream); default: a new one, retained on delete. */
  table?: ITableV2;
  /** An existing bus for PresenceChanged events; default: a new one. */
  eventBus?: IEventBus;
  /** Alarms notify this topic. */
  alarmTopic?: ITopic;
  /** Account ids or IAM principal ARNs allowed to invoke the online-agents function. */
  onlineAgentsInvokers?: string[];
  /** Default one month. */
  logRetention?: RetentionDays;
  /** Default `INFO`. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * Set API Gateway's account-wide CloudWatch Logs role (needed once per account and region before a
   * WebSocket stage may write access logs). Off by default: it is account state, not this service's.
   */
  apiGatewayCloudWatchRole?: boolean;
}

/** A prop the construct refuses, named in the message; thrown while the app is built (synth fails). */
export class PresenceServicePropsError extends Error {
  override readonly name = 'PresenceServicePropsError';
}

const STAGE_NAME = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;
const ACCOUNT_ID = /^\d{12}$/;
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/;

/** Every timing, defaulted and checked against TIMING_LIMITS (the grace also against the lease). */
function resolveTimings(timings: PresenceTimings = {}): Required<PresenceTimings> {
  const resolved = {} as Required<PresenceTimings>;
  for (const key of Object.keys(TIMING_LIMITS) as (keyof PresenceTimings)[]) {
    const limit = TIMING_LIMITS[key];
    const value = timings[key] ?? limit.default;
    const max = key === 'graceSeconds' ? Math.min(limit.max, timings.leaseSeconds ?? TIMING_LIMITS.leaseSeconds.default) : limit.max;
    if (!Number.isFinite(value) || value < limit.min || value > max) {
      throw new PresenceServicePropsError(`timings.${key} must be a number from ${limit.min} to ${max}, got ${value}`);
    }
    resolved[key] = value;
  }
  return resolved;
}

/** The schedule's period: the sweeper loops inside it, one pass per sweep interval. */
const SWEEP_WINDOW_SECONDS = 60;
/** Time kept free before the timeout for the last pass to finish. */
const SWEEP_RESERVE_SECONDS = 10;
/** The sweeper's timeout: its window plus the reserve, so the core stops passes before Lambda stops it. */
const SWEEPER_TIMEOUT = Duration.seconds(SWEEP_WINDOW_SECONDS + SWEEP_RESERVE_SECONDS);

/** One vCPU: Lambda allocates CPU in proportion to memory. */
const FANOUT_MEMORY_MB = 1769;
/** A chunk's posts time out after PRESENCE_POST_TIMEOUT_MS each; the sender waits a little longer. */
const FANOUT_TIMEOUT = Duration.seconds(15);
/**
 * The stream consumer's timeout. A batch holds up to 100 changes of several workspaces, delivered
 * four workspaces at a time, each of which may wait for fan-out chunks (up to FANOUT_TIMEOUT and a
 * second); a batch that times out is retried, so it is given room to finish instead.
 */
const STREAM_TIMEOUT = Duration.seconds(60);
/** How long the dead-letter queue keeps the record of a dropped delivery: SQS's longest. */
const DELIVERY_DLQ_RETENTION = Duration.days(14);

/**
 * Lambda event filtering on the table's stream: only records whose new image has `changes`, the
 * list an agent write that committed status changes records (most writes are lease renewals
 * without any, and never invoke the function). `exists` matches leaf values only, and a DynamoDB
 * image nests every value under its type, so the pattern names a leaf inside the list:
 * changes → L (each element) → M → version → N; a list matches when any element does. Deletes
 * (no NewImage) and the settings item (whose `changes` carry no version) do not match.
 */
const CHANGES_FILTER = FilterCriteria.filter({
  dynamodb: { NewImage: { changes: { L: { M: { version: { N: FilterRule.exists() } } } } } },
});
/** The same for `notices`: a sweeper write that committed only an AgentUnavailable (the agent was already away or offline). */
const NOTICES_FILTER = FilterCriteria.filter({
  dynamodb: { NewImage: { notices: { L: { M: { since: { N: FilterRule.exists() } } } } } },
});

/** Both APIs: requests per second across the stage, and the burst above it. */
const THROTTLE = { rateLimit: 500, burstLimit: 1000 } as const;

/** What one function needs, beside the Powertools defaults. */
interface FunctionNeeds {
  description: string;
  /** Table actions and indexes; omitted: no table at all. */
  table?: TableAccess;
  /** Posts to connections (@connections) and so needs the callback URL. */
  posts?: boolean;
  /** Publishes PresenceChanged events. */
  publishes?: boolean;
  /** Delivers changes, so hands the chunks of large fan-outs to the fan-out function. */
  fansOut?: boolean;
  /** Verifies tokens itself. */
  verifiesTokens?: boolean;
  /** Derives presence, so it reads lease, grace and idle timeout. */
  timing?: boolean;
  overrides?: Partial<Pick<PresenceFunctionProps, 'timeout' | 'memorySize' | 'reservedConcurrentExecutions'>>;
}

/**
 * Read, decide and conditionally write one agent: the agent and its workspace's settings in one
 * consistent BatchGetItem (GetItem for keys it leaves unprocessed), then PutItem on its version.
 */
const DECIDES: TableAction[] = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'];

/**
 * Every function and exactly what it needs; the tests check the synthesized policies against this.
 * Only the stream consumer delivers (posts presence, publishes PresenceChanged, hands chunks to the
 * fan-out function); the handlers and the sweeper read, decide and write, and the message routes
 * post only their replies to the sender.
 */
const FUNCTION_NEEDS: Record<PresenceHandler, FunctionNeeds> = {
  authorizer: { description: 'WebSocket $connect REQUEST authorizer: verifies the token', verifiesTokens: true },
  // Its connection item, its index entries and the user's team membership items (BatchWriteItem) beside the agent.
  connect: { description: 'WebSocket $connect', table: { actions: [...DECIDES, 'dynamodb:BatchWriteItem'] }, timing: true },
  // Deletes its connection item and index entries (BatchGetItem, BatchWriteItem) beside the agent.
  disconnect: { description: 'WebSocket $disconnect', table: { actions: [...DECIDES, 'dynamodb:BatchWriteItem'] }, timing: true },
  // A connection given up on gets its item and index entries back (PutItem, in one transaction); errors are posted back to the sender.
  heartbeat: { description: 'WebSocket heartbeat', table: { actions: DECIDES }, posts: true, timing: true },
  setStatus: { description: 'WebSocket setStatus', table: { actions: DECIDES }, posts: true, timing: true },
  // A snapshot of the connection's scope: its item, then the workspace's agents, or a team's
  // membership items and those agents in batches.
  getPresence: {
    description: 'WebSocket getPresence: snapshot of what the connection subscribes to',
    table: { actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'] },
    posts: true,
    timing: true,
  },
  // The scope: its new index copies (BatchWriteItem), the item on the scope it read (PutItem),
  // the stale copies (DeleteItem); then the snapshot.
  subscribe: {
    description: 'WebSocket subscribe: sets the connection\'s scope and sends its snapshot',
    table: { actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'] },
    posts: true,
    timing: true,
  },
  // Lists the user's connections (Query), posts each `loggedOut`, closes it and deletes its item.
  logout: {
    description: 'WebSocket logout',
    table: { actions: [...DECIDES, 'dynamodb:Query', 'dynamodb:BatchWriteItem'] },
    posts: true,
    timing: true,
  },
  // The composition builds a store for every ports user, so $default needs the table name; it never reads it.
  defaultRoute: { description: 'WebSocket $default: unknown actions', table: { actions: [] }, posts: true },
  onlineAgents: {
    description: 'online-agents: the assignment query, invoked directly',
    table: { actions: ['dynamodb:GetItem', 'dynamodb:Query'], indexes: ['byStatus'] },
    timing: true,
  },
  // Agents by status (byStatus) or all of them (Query); settings; a new idle timeout rewrites the
  // present agents (their deadlines move); an admin's sign-out posts `loggedOut`, closes the connections and deletes their items.
  http: {
    description: 'HTTP API of PROTOCOL.md',
    table: { actions: [...DECIDES, 'dynamodb:Query', 'dynamodb:BatchWriteItem'], indexes: ['byStatus'] },
    posts: true,
    verifiesTokens: true,
    timing: true,
  },
  sweeper: {
    description: 'Sweeper: expires leases, grace periods and idle deadlines',
    table: { actions: DECIDES, indexes: ['byDeadline'] },
    timing: true,
    overrides: { timeout: SWEEPER_TIMEOUT, reservedConcurrentExecutions: 1 },
  },
  // Records each batch's history (BatchWriteItem). Reads each batch's audience from the subscriber index (Query), forgets gone connections (BatchGetItem, BatchWriteItem) and disconnects
  // their users (read, decide, write); posts, publishes and hands large fan-outs to the fan-out function.
  stream: {
    description: 'Stream: the delivery consumer on the table\'s stream; posts presence and publishes PresenceChanged',
    table: { actions: [...DECIDES, 'dynamodb:Query', 'dynamodb:BatchWriteItem'] },
    posts: true,
    publishes: true,
    fansOut: true,
    timing: true,
    overrides: { timeout: STREAM_TIMEOUT },
  },
  // A full vCPU (1,769 MB): signing and sending a post costs about half a millisecond of CPU, so
  // a chunk of 100 takes about 50 ms here instead of about 350 ms at 256 MB, for the same GB-seconds.
  fanout: {
    description: 'Fan-out: posts one chunk of a large fan-out, invoked by the stream consumer',
    posts: true,
    overrides: { memorySize: FANOUT_MEMORY_MB, timeout: FANOUT_TIMEOUT },
  },
};

export class PresenceService extends Construct {
  readonly table: ITableV2;
  readonly eventBus: IEventBus;
  /** The HS256 secret the construct created (auth `secret` without one). */
  readonly jwtSecret: Secret | undefined;
  readonly functions: Record<PresenceHandler, PresenceFunction>;
  readonly webSocketApi: WebSocketApi;
  readonly webSocketStage: WebSocketStage;
  readonly httpApi: HttpApi;
  readonly httpStage: HttpStage;
  /** Where the stream consumer's batches go once every retry failed. */
  readonly deliveryDlq: Queue;

  /** wss:// URL of the WebSocket stage; clients add `?token=<JWT>`. */
  get webSocketUrl(): string {
    return this.webSocketStage.url;
  }

  /** Base URL of the HTTP API. */
  get httpApiUrl(): string {
    return this.httpStage.url;
  }

  /** The function assignment code invokes with `{"workspaceId","status","team"}`. */
  get onlineAgentsFunction(): PresenceFunction['function'] {
    return this.functions.onlineAgents.function;
  }

  constructor(scope: Construct, id: string, props: PresenceServiceProps) {
    super(scope, id);
    const stage = props.stage ?? 'prod';
    if (!STAGE_NAME.test(stage)) throw new PresenceServicePropsError('stage must be a letter then up to 31 letters, digits or dashes');
    const timings = resolveTimings(props.timings);
    const invokers = props.onlineAgentsInvokers ?? [];
    for (const principal of invokers) {
      if (!ACCOUNT_ID.test(principal) && !PRINCIPAL_ARN.test(principal)) {
        throw new PresenceServicePropsError(`onlineAgentsInvokers: ${principal} is neither an account id nor an IAM principal ARN`);
      }
    }
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const config = { stage, logLevel: props.logLevel ?? 'INFO', ...timings };

    const table = props.table ?? newPresenceTable(this, 'PresenceTable');
    if (!table.tableStreamArn) throw new PresenceServicePropsError('the table has no stream: make it with newPresenceTable, which turns its stream on');
    this.table = table;
    const bus = props.eventBus ?? new EventBus(this, 'PresenceBus', { description: 'PresenceChanged events of the presence service' });
    this.eventBus = bus;

    let jwtSecret = props.auth.mode === 'secret' ? props.auth.secret : undefined;
    this.jwtSecret = props.auth.mode === 'secret' && !jwtSecret ? newJwtSecret(this, 'JwtSecret') : undefined;
    jwtSecret ??= this.jwtSecret;
    const jwtEnvironment = jwtEnvironmentOf(props.auth, jwtSecret);
    const functions = {} as Record<PresenceHandler, PresenceFunction>;
    for (const [handler, needs] of Object.entries(FUNCTION_NEEDS) as [PresenceHandler, FunctionNeeds][]) {
      const fn = new PresenceFunction(this, `${handler[0]!.toUpperCase()}${handler.slice(1)}`, {
        handler,
        description: `presence (${config.stage}) ${needs.description}`,
        stage: config.stage,
        logRetention,
        logLevel: config.logLevel,
        timeout: Duration.seconds(20),
        ...needs.overrides,
      });
      if (needs.table) fn.bindTable(table, needs.table);
      if (needs.publishes) fn.bindEventBus(bus);
      if (needs.timing) fn.addEnvironment(timingEnvironment(config));
      if (needs.verifiesTokens) fn.addEnvironment(jwtEnvironment);
      functions[handler] = fn;
    }
    for (const [handler, needs] of Object.entries(FUNCTION_NEEDS) as [PresenceHandler, FunctionNeeds][]) {
      if (needs.fansOut) {
        functions[handler].bindFanout(functions.fanout.function).addEnvironment({
          PRESENCE_FANOUT_TIMEOUT_MS: String(FANOUT_TIMEOUT.toMilliseconds() + 1000),
        });
      }
    }
    functions.sweeper.addEnvironment({
      PRESENCE_SWEEP_INTERVAL_SECONDS: String(config.sweepIntervalSeconds),
      PRESENCE_SWEEP_WINDOW_SECONDS: String(SWEEP_WINDOW_SECONDS),
      PRESENCE_SWEEP_RESERVE_SECONDS: String(SWEEP_RESERVE_SECONDS),
    });
    this.functions = functions;

    // ---------- WebSocket API ----------
    const integration = (handler: PresenceHandler) =>
      new WebSocketLambdaIntegration(`${handler}Integration`, functions[handler].function);
    const authorizer = new WebSocketLambdaAuthorizer('TokenAuthorizer', functions.authorizer.function, {
      identitySource: ['route.request.querystring.token'],
    });
    this.webSocketApi = new WebSocketApi(this, 'WebSocketApi', {
      description: `presence (${config.stage}) WebSocket API`,
      routeSelectionExpression: '$request.body.action',
      connectRouteOptions: { integration: integration('connect'), authorizer },
      disconnectRouteOptions: { integration: integration('disconnect') },
      defaultRouteOptions: { integration: integration('defaultRoute') },
    });
    for (const action of MESSAGE_ACTIONS) {
      this.webSocketApi.addRoute(action, { integration: integration(action) });
    }
    const webSocketAccessLogs = new LogGroup(this, 'WebSocketAccessLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const accountLogging = props.apiGatewayCloudWatchRole ? this.apiGatewayAccountLogging() : undefined;
    this.webSocketStage = new WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: this.webSocketApi,
      stageName: config.stage,
      autoDeploy: true,
      throttle: THROTTLE,
      accessLogSettings: { destination: new LogGroupLogDestination(webSocketAccessLogs) },
    });
    if (accountLogging) this.webSocketStage.node.addDependency(accountLogging);
    for (const [handler, needs] of Object.entries(FUNCTION_NEEDS) as [PresenceHandler, FunctionNeeds][]) {
      if (needs.posts) functions[handler].bindConnections(this.webSocketApi, this.webSocketStage);
    }
    for (const route of this.webSocketApi.node.children) {
      if (!route.node.id.endsWith('-Route') || route.node.id.startsWith('$connect')) continue;
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'API Gateway runs WebSocket authorizers on $connect only; every later message of the connection carries the identity the $connect authorizer verified.',
      });
    }

    // ---------- HTTP API ----------
    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: `presence (${config.stage}) HTTP API`,
      createDefaultStage: false,
    });
    const httpAccessLogs = new LogGroup(this, 'HttpAccessLogs', { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY });
    // The $default stage: the handler routes on rawPath, which a named stage would prefix.
    this.httpStage = new HttpStage(this, 'HttpStage', {
      httpApi: this.httpApi,
      autoDeploy: true,
      throttle: THROTTLE,
      accessLogSettings: { destination: new LogGroupLogDestination(httpAccessLogs) },
    });
    const httpIntegration = new HttpLambdaIntegration('HttpIntegration', functions.http.function);
    for (const { method, path } of Object.values(HTTP_ROUTES)) {
      for (const route of this.httpApi.addRoutes({ path, methods: [HttpMethod[method]], integration: httpIntegration })) {
        Validations.of(route).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'Authorization is in the http function: it verifies the Bearer token (HS256 or JWKS, the same verifier as the WebSocket authorizer) before anything else and answers 401/403 in the PROTOCOL.md error format. A JWT authorizer cannot check HS256 tokens, and /healthz must stay anonymous.',
        });
      }
    }

    // ---------- sweeper ----------
    const sweeper = functions.sweeper.function;
    // A late or throttled invocation is worthless once the next minute's has started.
    sweeper.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(2) });
    const schedulerRole = new Role(this, 'SweepScheduleRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
      description: 'EventBridge Scheduler invokes the presence sweeper',
    });
    new Schedule(this, 'SweepSchedule', {
      description: `presence (${config.stage}) sweeper, every minute; it loops inside its minute`,
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      target: new LambdaInvoke(sweeper, { role: schedulerRole, retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
    });
    Validations.of(schedulerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(sweeper.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason:
        'Scheduler target grant (grantInvoke) covers the sweeper function and its versions/aliases (ARN:*); it names this one function only.',
    });

    // ---------- delivery: the consumer on the table's stream ----------
    // Read by operators, never consumed: for a stream, Lambda sends the failed batch's shard and
    // sequence-number range (not the records), to be read from the stream within its 24 hours.
    this.deliveryDlq = new Queue(this, 'DeliveryDlq', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DELIVERY_DLQ_RETENTION,
    });
    Validations.of(this.deliveryDlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter destination: the on-failure destination of the stream consumer\'s event source mapping. Operators read it; nothing consumes it that could fail, so a DLQ of its own would only hold the same records again.',
    });
    functions.stream.function.addEventSource(
      new DynamoEventSource(table, {
        // Changes committed from now on: a new consumer must not replay up to 24 hours of old changes.
        startingPosition: StartingPosition.LATEST,
        // Up to 100 records per invocation; a burst coalesces into one message per connection per batch.
        batchSize: 100,
        // Latency first: invoke as soon as records arrive; a busy stream batches by itself (each shard is polled about four times a second).
        maxBatchingWindow: Duration.seconds(0),
        // One batch per shard at a time, so a workspace's burst coalesces in one lane; raise it if IteratorAge grows while the function is healthy.
        parallelizationFactor: 1,
        // The handler names the first record it could not deliver; only it and the records after it come again.
        reportBatchItemFailures: true,
        // A batch that throws or times out is split in two, so one bad record cannot hold its shard's other changes.
        bisectBatchOnError: true,
        // Bounded retries, then the batch goes to the DLQ instead of blocking its shard until the records expire.
        retryAttempts: 10,
        // A presence change older than an hour is worthless: drop it (to the DLQ) rather than deliver it late.
        maxRecordAge: Duration.hours(1),
        // Batches that failed every retry, or aged out, are recorded in the DLQ (alarmed on).
        onFailure: new SqsDlq(this.deliveryDlq),
        // Only agent writes that committed changes or notices invoke the function (filters are ORed).
        filters: [CHANGES_FILTER, NOTICES_FILTER],
      }),
    );

    // ---------- online-agents ----------
    for (const principal of invokers) {
      functions.onlineAgents.function.grantInvoke(
        /^\d{12}$/.test(principal) ? new AccountPrincipal(principal) : new ArnPrincipal(principal),
      );
    }

    // ---------- operations ----------
    new PresenceOperations(this, 'Operations', {
      stage: config.stage,
      functions,
      webSocketApi: this.webSocketApi,
      webSocketStage: this.webSocketStage,
      httpApi: this.httpApi,
      table,
      deliveryDlq: this.deliveryDlq,
      sweeperTimeout: SWEEPER_TIMEOUT,
      ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
    });
  }

  /** API Gateway's account setting: the role it writes WebSocket (and REST) logs with. */
  private apiGatewayAccountLogging(): CfnAccount {
    const role = new Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway writes API logs to CloudWatch Logs (account-wide setting)',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The documented AWS managed policy for the API Gateway account logging role; API Gateway creates log groups per API and stage, so the role cannot be scoped to ours.',
    });
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    // The setting is account-wide: leave it in place for other APIs when this stack goes.
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    return account;
  }
}

/**
 * JWT settings for the functions that verify tokens. HS256: the secret goes in as a CloudFormation
 * dynamic reference, resolved at deploy time, so the function code reads PRESENCE_JWT_SECRET as locally.
 */
function jwtEnvironmentOf(auth: PresenceAuth, secret: ISecret | undefined): Record<string, string> {
  const claims = { ...(auth.issuer ? { PRESENCE_JWT_ISSUER: auth.issuer } : {}), ...(auth.audience ? { PRESENCE_JWT_AUDIENCE: auth.audience } : {}) };
  if (auth.mode === 'jwks') {
    if (!auth.jwksUrl.startsWith('https://')) throw new PresenceServicePropsError('auth.jwksUrl must be an https:// URL');
    if (!auth.issuer || !auth.audience) throw new PresenceServicePropsError('auth with a jwksUrl needs issuer and audience');
    return { PRESENCE_JWKS_URL: auth.jwksUrl, ...claims };
  }
  if (!secret) throw new PresenceServicePropsError('auth mode secret has no secret');
  return { PRESENCE_JWT_SECRET: secret.secretValue.unsafeUnwrap(), ...claims };
}

function timingEnvironment(config: Required<PresenceTimings>): Record<string, string> {
  return {
    PRESENCE_CONNECTION_LEASE_SECONDS: String(config.leaseSeconds),
    PRESENCE_RECONNECT_GRACE_SECONDS: String(config.graceSeconds),
    PRESENCE_IDLE_TIMEOUT_SECONDS: String(config.idleTimeoutSeconds),
  };
}
