/**
 * The composition root: the table's store and the ports from configuration, once per cold start.
 * Lambda entries (functions/handlers/lambda/) and the local stack use it; tests pass their own
 * ports to the factories. What only some functions use is wired in modules of its own
 * (connections-wiring.ts, delivery-wiring.ts, token-wiring.ts), so no function bundles an SDK
 * client it never calls.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDbPresenceStore } from '#adapters/dynamodb-store.ts';
import { presenceConfigFromEnv, readNumber, requireEnv } from '#app/config.ts';
import { ConfigurationError } from '#app/errors.ts';
import { ConnectionRateLimiter, type RateLimitConfig } from '#app/rate-limit.ts';
import type { ConnectionGateway, EventPublisher, FanoutDispatcher, Logger as LoggerPort, Ports } from '#app/ports.ts';
import type { Instrument } from '#handlers/connections-wiring.ts';

type Env = Record<string, string | undefined>;

export function makeDocumentClient(env: Env, instrument: Instrument = (client) => client): DynamoDBDocumentClient {
  const endpoint = env.PRESENCE_DYNAMODB_ENDPOINT;
  const client = new DynamoDBClient({
    region: env.AWS_REGION ?? 'us-east-1',
    // A connection that cannot be made fails and is retried. A slow request is only logged by this
    // SDK version (no throwOnRequestTimeout): abandoning and retrying a conditional write that had
    // been applied would make mutateAgent see its own write as a lost race and publish nothing.
    requestHandler: {
      // Counts from the request, so it includes waiting for one of the pool's sockets.
      connectionTimeout: readNumber(env, 'PRESENCE_DYNAMODB_CONNECT_TIMEOUT_MS', 2000, 1),
      requestTimeout: readNumber(env, 'PRESENCE_DYNAMODB_REQUEST_TIMEOUT_MS', 5000, 1),
      // Per process: a Lambda serves one request at a time; the local stack serves every handler.
      httpAgent: { maxSockets: readNumber(env, 'PRESENCE_DYNAMODB_MAX_SOCKETS', 50, 1) },
      httpsAgent: { maxSockets: readNumber(env, 'PRESENCE_DYNAMODB_MAX_SOCKETS', 50, 1) },
    },
    ...(endpoint ? { endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  return DynamoDBDocumentClient.from(instrument(client), { marshallOptions: { removeUndefinedValues: true } });
}

export interface CompositionOverrides {
  /** Posts to connections (gatewayFromEnv in Lambda); without one, a post is a ConfigurationError. */
  gateway?: ConnectionGateway;
  /** Publishes PresenceChanged (eventsFromEnv in Lambda); without one, publishing is a ConfigurationError. */
  events?: EventPublisher;
  logger?: LoggerPort;
  clock?: Ports['clock'];
  /** Where chunks of a large fan-out go (the fan-out function, or the local stack's worker threads). */
  fanout?: FanoutDispatcher;
  /** Wraps the DynamoDB client (Powertools Tracer in Lambda). */
  instrument?: Instrument;
}

export interface Composition {
  /** Built on first use, so a function only needs the settings of the parts it uses. */
  ports(): Ports;
  /** Per-connection message budgets of this instance; undefined when turned off (burst 0). */
  limiter(): ConnectionRateLimiter | undefined;
  logger: LoggerPort;
}

/** A port this function was not given: its IAM role would refuse the call anyway. */
function unwired(what: string): never {
  throw new ConfigurationError(`this function does not ${what}`);
}

function rateLimitFromEnv(env: Env): RateLimitConfig {
  return {
    burst: readNumber(env, 'PRESENCE_RATE_LIMIT_BURST', 20, 0),
    perSecond: readNumber(env, 'PRESENCE_RATE_LIMIT_PER_SECOND', 2, 0.01),
  };
}

function once<T>(build: () => T): () => T {
  let value: T | undefined;
  let built = false;
  return () => {
    if (!built) {
      value = build();
      built = true;
    }
    return value as T;
  };
}

export function compose(env: Env, overrides: CompositionOverrides = {}): Composition {
  const logger = overrides.logger ?? new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'presence' });
  const ports = once((): Ports => {
    const config = presenceConfigFromEnv(env);
    const store = new DynamoDbPresenceStore({
      client: makeDocumentClient(env, overrides.instrument),
      tableName: requireEnv(env, 'PRESENCE_TABLE_NAME'),
      agentRetentionMs: config.agentRetentionMs,
    });
    return {
      store,
      gateway: overrides.gateway ?? { post: async () => unwired('post to connections'), delete: async () => unwired('close connections') },
      events: overrides.events ?? { publish: async () => unwired('publish events'), publishUnavailable: async () => unwired('publish events') },
      clock: overrides.clock ?? { now: () => Date.now() },
      config,
      logger,
      ...(overrides.fanout ? { fanout: overrides.fanout } : {}),
    };
  });
  const limiter = once(() => {
    const config = rateLimitFromEnv(env);
    return config.burst > 0 ? new ConnectionRateLimiter(config) : undefined;
  });
  return { ports, limiter, logger };
}
