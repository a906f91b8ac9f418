/**
 * The `@connections` management API from configuration, in a module of its own: the fan-out
 * function needs it and nothing else, and functions that never post do not bundle it.
 */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ApiGatewayConnectionGateway } from '#adapters/api-gateway.ts';
import { presenceConfigFromEnv, readNumber, requireEnv } from '#app/config.ts';
import type { ConnectionGateway, Logger } from '#app/ports.ts';
import type { FanoutDeps } from '#handlers/fanout.ts';

type Env = Record<string, string | undefined>;
/** Wraps an SDK client (tracing, in Lambda); the identity elsewhere. */
export type Instrument = <T>(client: T) => T;
const bare: Instrument = (client) => client;

/** How long one post may take before it is abandoned (PRESENCE_POST_TIMEOUT_MS). */
export function postTimeoutMsFromEnv(env: Env): number {
  return readNumber(env, 'PRESENCE_POST_TIMEOUT_MS', 3000, 1);
}

/** The management endpoint comes from configuration (the stage's callback URL), never from events; built on first use. */
export function gatewayFromEnv(env: Env, instrument: Instrument = bare): ConnectionGateway {
  let gateway: ApiGatewayConnectionGateway | undefined;
  const built = () => {
    gateway ??= new ApiGatewayConnectionGateway({
      client: instrument(new ApiGatewayManagementApiClient({ endpoint: requireEnv(env, 'PRESENCE_CALLBACK_URL'), region: env.AWS_REGION ?? 'us-east-1' })),
      requestTimeoutMs: postTimeoutMsFromEnv(env),
    });
    return gateway;
  };
  return {
    post: (connectionId, message) => built().post(connectionId, message),
    delete: (connectionId) => built().delete(connectionId),
  };
}

/**
 * What the fan-out function needs, and nothing else (no table, bus or token settings): the
 * management API and the post settings. Lambda and the local worker threads both build it here.
 */
export function fanoutDepsFromEnv(
  env: Env,
  logger: Logger,
  wrapGateway: (gateway: ConnectionGateway) => ConnectionGateway = (gateway) => gateway,
  instrument: Instrument = bare,
): FanoutDeps {
  return {
    gateway: wrapGateway(gatewayFromEnv(env, instrument)),
    logger,
    fanoutConcurrency: presenceConfigFromEnv(env).fanoutConcurrency,
    postTimeoutMs: postTimeoutMsFromEnv(env),
  };
}
