/**
 * PresenceService: the whole presence service as one construct, for this repository's app and for
 * any other CDK app: the table (or yours) and its stream, the event bus (or yours), the WebSocket
 * API and its functions, the HTTP API, the online-agents function, the sweeper schedule, the
 * delivery consumer on the table's stream (with its dead-letter queue), and operations (alarms,
 * dashboard). It makes no stack outputs: its properties are there to output or wire.
 *
 * This module checks the props and puts the parts together; each part is made in its own module:
 * the functions from what each needs (function-needs.ts), websocket-api.ts, http-api.ts,
 * sweeper-schedule.ts, delivery-consumer.ts and operations.ts.
 */
import type { HttpApi, HttpStage, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import { AccountPrincipal, ArnPrincipal } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { addDeliveryConsumer } from './delivery-consumer.ts';
import { grantPosting, newPresenceFunctions } from './function-needs.ts';
import { newHttpApi } from './http-api.ts';
import { PresenceOperations } from './operations.ts';
import type { PresenceFunction, PresenceHandler } from './presence-function.ts';
import { newJwtSecret, newPresenceTable } from './presence-table.ts';
import { scheduleSweeper, SWEEPER_TIMEOUT, sweeperEnvironment } from './sweeper-schedule.ts';
import { newWebSocketApi } from './websocket-api.ts';

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

/** Both APIs: requests per second across the stage, and the burst above it. */
const THROTTLE = { rateLimit: 500, burstLimit: 1000 } as const;

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
    const functions = newPresenceFunctions(this, {
      stage: config.stage,
      logRetention,
      logLevel: config.logLevel,
      table,
      bus,
      timingEnvironment: timingEnvironment(config),
      jwtEnvironment,
    });
    functions.sweeper.addEnvironment(sweeperEnvironment(config.sweepIntervalSeconds));
    this.functions = functions;

    const webSocket = newWebSocketApi(this, {
      functions,
      stage: config.stage,
      logRetention,
      throttle: THROTTLE,
      accountLogging: props.apiGatewayCloudWatchRole ?? false,
    });
    this.webSocketApi = webSocket.api;
    this.webSocketStage = webSocket.stage;
    grantPosting(functions, this.webSocketApi, this.webSocketStage);

    const http = newHttpApi(this, { httpFunction: functions.http, stage: config.stage, logRetention, throttle: THROTTLE });
    this.httpApi = http.api;
    this.httpStage = http.stage;

    scheduleSweeper(this, functions.sweeper, config.stage);

    this.deliveryDlq = addDeliveryConsumer(this, functions.stream, table);

    // The accounts and principals allowed to invoke the online-agents function.
    for (const principal of invokers) {
      functions.onlineAgents.function.grantInvoke(
        /^\d{12}$/.test(principal) ? new AccountPrincipal(principal) : new ArnPrincipal(principal),
      );
    }

    // Alarms and the dashboard.
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
