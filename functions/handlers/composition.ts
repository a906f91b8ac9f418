/**
 * The composition root: real adapters built from configuration, once per cold start. Lambda
 * entries (lambda.ts) and the local stack use it; tests pass their own ports to the factories.
 */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { ApiGatewayConnectionGateway } from '#adapters/api-gateway.ts';
import { DynamoDbPresenceStore } from '#adapters/dynamodb-store.ts';
import { EventBridgePublisher } from '#adapters/eventbridge.ts';
import { LambdaFanoutDispatcher } from '#adapters/lambda-fanout.ts';
import { type JwtSettings, makeJwtVerifier } from '#adapters/jwt.ts';
import { presenceConfigFromEnv, readNumber, requireEnv } from '#app/config.ts';
import { ConfigurationError } from '#app/errors.ts';
import { ConnectionRateLimiter, type RateLimitConfig } from '#app/rate-limit.ts';
import type { ConnectionGateway, EventPublisher, FanoutDispatcher, Logger as LoggerPort, Ports } from '#app/ports.ts';
import type { TokenVerifier } from '#app/principal.ts';
import type { FanoutDeps } from '#handlers/fanout.ts';

type Env = Record<string, string | undefined>;

export function jwtSettingsFromEnv(env: Env): JwtSettings {
  const issuer = env.PRESENCE_JWT_ISSUER || undefined;
  const audience = env.PRESENCE_JWT_AUDIENCE || undefined;
  if (env.PRESENCE_JWKS_URL) return { mode: 'jwks', jwksUrl: env.PRESENCE_JWKS_URL, issuer, audience };
  if (env.PRESENCE_JWT_SECRET) {
    if (env.PRESENCE_JWT_SECRET.length < 32) {
      throw new ConfigurationError('PRESENCE_JWT_SECRET must be at least 32 characters');
    }
    return { mode: 'secret', secret: env.PRESENCE_JWT_SECRET, issuer, audience };
  }
  throw new ConfigurationError('set PRESENCE_JWT_SECRET (HS256) or PRESENCE_JWKS_URL (RS256/ES256)');
}

export function makeDocumentClient(env: Env): DynamoDBDocumentClient {
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
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export interface CompositionOverrides {
  gateway?: ConnectionGateway;
  events?: EventPublisher;
  logger?: LoggerPort;
  clock?: Ports['clock'];
  /** Where chunks of a large fan-out go (the local stack's worker threads). */
  fanout?: FanoutDispatcher;
}

export interface Composition {
  /** Built on first use, so a function only needs the settings of the parts it uses. */
  ports(): Ports;
  verifier(): TokenVerifier;
  /** Per-connection message budgets of this instance; undefined when turned off (burst 0). */
  limiter(): ConnectionRateLimiter | undefined;
  /** The logger, for functions that need no other port (the authorizer). */
  logger: LoggerPort;
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
      client: makeDocumentClient(env),
      tableName: requireEnv(env, 'PRESENCE_TABLE_NAME'),
      agentRetentionMs: config.agentRetentionMs,
    });
    return {
      store,
      gateway: overrides.gateway ?? lazyGateway(env),
      events: overrides.events ?? lazyEvents(env),
      clock: overrides.clock ?? { now: () => Date.now() },
      config,
      logger,
      fanout: overrides.fanout ?? fanoutFromEnv(env),
    };
  });
  const limiter = once(() => {
    const config = rateLimitFromEnv(env);
    return config.burst > 0 ? new ConnectionRateLimiter(config) : undefined;
  });
  return { ports, verifier: once(() => makeJwtVerifier(jwtSettingsFromEnv(env))), limiter, logger };
}

/** Chunks of a large fan-out go to the function PRESENCE_FANOUT_FUNCTION_NAME names, if set. */
function fanoutFromEnv(env: Env): FanoutDispatcher | undefined {
  const functionName = env.PRESENCE_FANOUT_FUNCTION_NAME;
  if (!functionName) return undefined;
  const dispatcher = once(
    () =>
      new LambdaFanoutDispatcher(
        new LambdaClient({
          region: env.AWS_REGION ?? 'us-east-1',
          // No retries: a retried invocation that had run would post its chunk twice. A refused one
          // is posted by the consumer instead (fanout.ts).
          maxAttempts: 1,
          // Longer than the fan-out function's timeout, so an answer is never abandoned while it
          // runs; a connection that cannot be made fails fast, and the consumer posts the chunk.
          requestHandler: {
            connectionTimeout: 1_000,
            requestTimeout: readNumber(env, 'PRESENCE_FANOUT_TIMEOUT_MS', 16_000, 1),
            throwOnRequestTimeout: true,
          },
        }),
        functionName,
      ),
  );
  return { post: (chunk) => dispatcher().post(chunk) };
}

/** How long one post may take before it is abandoned (PRESENCE_POST_TIMEOUT_MS). */
export function postTimeoutMsFromEnv(env: Env): number {
  return readNumber(env, 'PRESENCE_POST_TIMEOUT_MS', 3000, 1);
}

/**
 * What the fan-out function needs, and nothing else (no table, bus or token settings): the
 * management API and the post settings. Lambda and the local worker threads both build it here.
 */
export function fanoutDepsFromEnv(
  env: Env,
  logger: LoggerPort,
  wrapGateway: (gateway: ConnectionGateway) => ConnectionGateway = (gateway) => gateway,
): FanoutDeps {
  return {
    gateway: wrapGateway(lazyGateway(env)),
    logger,
    fanoutConcurrency: presenceConfigFromEnv(env).fanoutConcurrency,
    postTimeoutMs: postTimeoutMsFromEnv(env),
  };
}

/** The management endpoint comes from configuration (the stage's callback URL), never from events. */
function lazyGateway(env: Env): ConnectionGateway {
  const gateway = once(
    () =>
      new ApiGatewayConnectionGateway({
        client: new ApiGatewayManagementApiClient({
          endpoint: requireEnv(env, 'PRESENCE_CALLBACK_URL'),
          region: env.AWS_REGION ?? 'us-east-1',
        }),
        requestTimeoutMs: postTimeoutMsFromEnv(env),
      }),
  );
  return {
    post: (connectionId, message) => gateway().post(connectionId, message),
    delete: (connectionId) => gateway().delete(connectionId),
  };
}

function lazyEvents(env: Env): EventPublisher {
  const publisher = once(
    () =>
      new EventBridgePublisher(
        new EventBridgeClient({ region: env.AWS_REGION ?? 'us-east-1' }),
        requireEnv(env, 'PRESENCE_EVENT_BUS_NAME'),
      ),
  );
  return { publish: (events) => publisher().publish(events) };
}
