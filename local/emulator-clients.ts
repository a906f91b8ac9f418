/**
 * How the handlers reach the WebSocket emulator's `@connections` endpoint: the real API Gateway
 * adapter over the real SDK, and the worker threads that post the chunks of large fan-outs. Both
 * are made on first use, once the emulator listens (its management URL is the callback URL), with
 * local credentials, as nothing checks them.
 */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ApiGatewayConnectionGateway } from '#adapters/api-gateway.ts';
import type { ConnectionGateway, FanoutChunk, FanoutDispatcher, Logger } from '#app/ports.ts';
import { postTimeoutMsFromEnv } from '#handlers/connections-wiring.ts';
import { WorkerFanoutDispatcher } from '#local/fanout-workers.ts';
import { type Env, LOCAL_MAX_SOCKETS } from '#local/stack-settings.ts';

/** The emulator's management URL once it listens. */
type ManagementUrl = () => string | undefined;

function listening(managementUrl: ManagementUrl): string {
  const url = managementUrl();
  if (url === undefined) throw new Error('the WebSocket emulator is not listening yet');
  return url;
}

/** Posts and closes through the emulator's `@connections`; `destroy` closes the SDK client, if one was made. */
export function emulatorGateway(env: Env, managementUrl: ManagementUrl): { gateway: ConnectionGateway; destroy(): Promise<void> } {
  let management: ApiGatewayManagementApiClient | undefined;
  let adapter: ApiGatewayConnectionGateway | undefined;
  const connections = (): ApiGatewayConnectionGateway => {
    const endpoint = listening(managementUrl);
    management ??= new ApiGatewayManagementApiClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      // One pool for every handler's posts, where AWS gives each Lambda instance its own.
      requestHandler: { httpAgent: { maxSockets: LOCAL_MAX_SOCKETS } },
    });
    adapter ??= new ApiGatewayConnectionGateway({
      client: management,
      requestTimeoutMs: postTimeoutMsFromEnv(env),
    });
    return adapter;
  };
  return {
    gateway: {
      post: (connectionId, message) => connections().post(connectionId, message),
      delete: (connectionId) => connections().delete(connectionId),
    },
    destroy: async () => management?.destroy(),
  };
}

export interface EmulatorFanoutWorkers {
  /** Hands chunks to the worker threads; absent with no workers, so the consumer posts every message itself. */
  fanout: FanoutDispatcher | undefined;
  /** Boots the threads now rather than on the first chunk. */
  start(): void;
  /** Chunks the threads were given so far. */
  chunks(): number;
  stop(): Promise<void>;
}

/** Parallel fan-out invocations, as `count` worker threads running the fan-out function. */
export function emulatorFanoutWorkers(env: Env, count: number, managementUrl: ManagementUrl, logger: Logger): EmulatorFanoutWorkers {
  let workers: WorkerFanoutDispatcher | undefined;
  const startWorkers = (): WorkerFanoutDispatcher => {
    const callbackUrl = listening(managementUrl);
    workers ??= new WorkerFanoutDispatcher(
      count,
      {
        ...env,
        PRESENCE_CALLBACK_URL: callbackUrl,
        // Nothing checks them; the SDK needs some to sign.
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_REGION: 'us-east-1',
        // The pinned SDK runs on Node 20; its notice about future releases is noise here.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'true',
      },
      logger,
    );
    return workers;
  };
  return {
    fanout: count > 0 ? { post: (chunk: FanoutChunk) => startWorkers().post(chunk) } : undefined,
    start: () => void startWorkers(),
    chunks: () => workers?.chunks ?? 0,
    stop: async () => workers?.stop(),
  };
}
