/**
 * The whole service on one machine: DynamoDB Local, the WebSocket emulator with its
 * `@connections` endpoint, the HTTP API and page, the sweeper on a timer, and the delivery
 * consumer reading the table's stream. Every request runs
 * through the same handler factories and composition Lambda uses; only the adapters' endpoints
 * and the event publisher differ.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { ApiGatewayConnectionGateway } from '#adapters/api-gateway.ts';
import { readNumber } from '#app/config.ts';
import type { Clock, FanoutChunk, Logger } from '#app/ports.ts';
import { compose } from '#handlers/composition.ts';
import { postTimeoutMsFromEnv } from '#handlers/connections-wiring.ts';
import { jwtSettingsFromEnv, verifierFromEnv } from '#handlers/token-wiring.ts';
import { makeHttpHandler } from '#handlers/http.ts';
import { makeSweeperHandler, type SweeperResult } from '#handlers/sweeper.ts';
import { makeWebSocketApi } from '#handlers/websocket.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '#local/dynamodb-local.ts';
import { DynamoDbStreamReader } from '#local/stream/reader.ts';
import { makeStreamHandler } from '#handlers/stream.ts';
import { LocalEventPublisher } from '#local/events.ts';
import { WorkerFanoutDispatcher } from '#local/fanout-workers.ts';
import { LocalHttpServer, type PageAssets } from '#local/http-server.ts';
import { buildPage } from '#local/page/build.ts';
import { ensureTable } from '#local/table-setup.ts';
import { pageOrigins } from '#local/loopback.ts';
import { DEV_JWT_SECRET, type SigningSettings } from '#local/tokens.ts';
import { WebSocketEmulator } from '#local/websocket/server.ts';

type Env = Record<string, string | undefined>;

/** A problem the person starting the stack can fix; main.ts prints the message alone. */
export class LocalStackError extends Error {
  override readonly name = 'LocalStackError';
}

/**
 * Sockets of the stack's DynamoDB and `@connections` pools (the SDK's default is 50): beyond 50
 * requests in flight in a storm, requests waited for a socket past the SDK's 2 s connect timeout.
 */
const LOCAL_MAX_SOCKETS = 256;

export interface LocalStackOptions {
  /** PRESENCE_* settings as PROTOCOL.md lists them; defaults to process.env. */
  env?: Env;
  /** Overrides PRESENCE_HTTP_PORT / PRESENCE_WS_PORT / PRESENCE_MANAGEMENT_PORT; 0 picks free ports (tests). */
  httpPort?: number;
  wsPort?: number;
  /** Without it, 0 when wsPort is 0 (tests), else PRESENCE_MANAGEMENT_PORT (3002). */
  managementPort?: number;
  /** Tests drive time: the same clock goes to the handlers and the emulator's events. */
  clock?: Clock;
  /** false: no sweeper timer; call `sweep()` (tests with a manual clock). */
  sweepTimer?: boolean;
  /** Emulator timeouts (API Gateway: 10 minutes idle, 2 hours lifetime). */
  idleTimeoutMs?: number;
  maxLifetimeMs?: number;
  dropDisconnect?: boolean;
  logger?: Logger;
  page?: PageAssets;
  /** Worker threads posting the chunks of large fan-outs; overrides PRESENCE_LOCAL_FANOUT_WORKERS. */
  fanoutWorkers?: number;
}

export interface LocalStack {
  httpUrl: string;
  wsUrl: string;
  managementUrl: string;
  dynamoEndpoint: string;
  tableName: string;
  /** True when tokens are signed with the fixed development secret. */
  devSecretInUse: boolean;
  /** True when the page's demo sign-in (POST /dev/token) mints tokens. */
  devSignIn: boolean;
  signing: SigningSettings;
  emulator: WebSocketEmulator;
  /** One sweep pass now. */
  sweep(): Promise<SweeperResult>;
  /**
   * Resolves once every change committed before the call has been delivered: the stream is read
   * up to now and every post it caused is done (tests use it as a barrier).
   */
  delivered(): Promise<void>;
  /** Fan-out chunks the worker threads were given so far. */
  fanoutChunks(): number;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

function port(env: Env, name: string, fallback: number): number {
  const value = readNumber(env, name, fallback, 0);
  if (!Number.isInteger(value) || value > 65_535) throw new LocalStackError(`${name} must be a port number, got "${env[name]}"`);
  return value;
}

async function prepareDataDir(dir: string): Promise<string> {
  const path = resolve(dir);
  try {
    await mkdir(path, { recursive: true });
    await access(path, constants.W_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new LocalStackError(`cannot write to the data directory ${path} (${reason}): set PRESENCE_DATA_DIR to a writable directory, or :memory:`);
  }
  return path;
}

function portInUse(error: unknown, what: string, variable: string, value: number): never {
  if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    throw new LocalStackError(`port ${value} (${what}) is in use: stop what uses it or set ${variable} to a free port`);
  }
  throw error;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const httpPort = options.httpPort ?? port(env, 'PRESENCE_HTTP_PORT', 3000);
  const wsPort = options.wsPort ?? port(env, 'PRESENCE_WS_PORT', 3001);
  const managementPort = options.managementPort ?? (options.wsPort === 0 ? 0 : port(env, 'PRESENCE_MANAGEMENT_PORT', 3002));
  const tableName = env.PRESENCE_TABLE_NAME || 'presence';
  const clock = options.clock ?? { now: () => Date.now() };
  const logger = options.logger ?? new PowertoolsLogger({ serviceName: 'presence-local', logLevel: (env.POWERTOOLS_LOG_LEVEL as 'INFO') ?? 'INFO' });
  const devSecretInUse = !env.PRESENCE_JWT_SECRET && !env.PRESENCE_JWKS_URL;
  // Minting tokens on request is safe only with the public development secret, which nothing
  // else trusts; with a real secret it takes an explicit PRESENCE_DEV_SIGN_IN=1 (main.ts warns).
  const devSignIn = devSecretInUse || (env.PRESENCE_DEV_SIGN_IN === '1' && !env.PRESENCE_JWKS_URL);
  const jwtEnv: Env = devSecretInUse ? { ...env, PRESENCE_JWT_SECRET: DEV_JWT_SECRET } : env;
  // Fail on bad settings before anything starts.
  const jwt = jwtSettingsFromEnv(jwtEnv);
  const verifier = verifierFromEnv(jwtEnv);
  const signing: SigningSettings = {
    secret: jwt.mode === 'secret' ? jwt.secret : '',
    issuer: jwt.issuer,
    audience: jwt.audience,
  };

  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
  };
  try {
    let dynamoEndpoint = env.PRESENCE_DYNAMODB_ENDPOINT;
    if (!dynamoEndpoint) {
      const dataDirSetting = env.PRESENCE_DATA_DIR || '.presence-data';
      const dataDir = dataDirSetting === ':memory:' ? undefined : await prepareDataDir(dataDirSetting);
      const db: DynamoDbLocal = await startDynamoDbLocal(dataDir ? { dataDir } : {});
      cleanups.push(() => db.stop());
      dynamoEndpoint = db.endpoint;
    }
    const dynamo = new DynamoDBClient({
      endpoint: dynamoEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    let tableCreated = false;
    try {
      tableCreated = (await ensureTable(dynamo, tableName)).created;
    } catch (error) {
      throw new LocalStackError(`cannot set up table ${tableName} at ${dynamoEndpoint}: ${(error as Error).message}`);
    } finally {
      dynamo.destroy();
    }

    const events = new LocalEventPublisher({ logger, webhookUrl: env.PRESENCE_EVENTS_WEBHOOK || undefined });
    // The real adapter over the real SDK, pointed at the emulator's management endpoint (the
    // callback URL) once the emulator is listening; local credentials, as nothing checks them.
    let emulator: WebSocketEmulator | undefined;
    let management: ApiGatewayManagementApiClient | undefined;
    let adapter: ApiGatewayConnectionGateway | undefined;
    const connections = (): ApiGatewayConnectionGateway => {
      if (!emulator) throw new Error('the WebSocket emulator is not listening yet');
      management ??= new ApiGatewayManagementApiClient({
        endpoint: emulator.managementUrl,
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
    cleanups.push(async () => management?.destroy());
    // Parallel fan-out invocations, as worker threads (started once the stack is up).
    const workerCount = options.fanoutWorkers ?? readNumber(env, 'PRESENCE_LOCAL_FANOUT_WORKERS', 2, 0);
    if (!Number.isInteger(workerCount)) throw new LocalStackError(`PRESENCE_LOCAL_FANOUT_WORKERS must be a whole number, got "${env.PRESENCE_LOCAL_FANOUT_WORKERS}"`);
    let workers: WorkerFanoutDispatcher | undefined;
    const startWorkers = (): WorkerFanoutDispatcher => {
      if (!emulator) throw new Error('the WebSocket emulator is not listening yet');
      workers ??= new WorkerFanoutDispatcher(
        workerCount,
        {
          ...env,
          PRESENCE_CALLBACK_URL: emulator.managementUrl,
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
    const fanout = workerCount > 0 ? { post: (chunk: FanoutChunk) => startWorkers().post(chunk) } : undefined;
    cleanups.push(async () => workers?.stop());
    cleanups.push(() => events.drain());
    const composition = compose(
      {
        // One process serves every handler: its DynamoDB pool stands in for many Lambda instances' own.
        PRESENCE_DYNAMODB_MAX_SOCKETS: String(LOCAL_MAX_SOCKETS),
        ...jwtEnv,
        PRESENCE_TABLE_NAME: tableName,
        PRESENCE_DYNAMODB_ENDPOINT: dynamoEndpoint,
      },
      {
        gateway: {
          post: (connectionId, message) => connections().post(connectionId, message),
          delete: (connectionId) => connections().delete(connectionId),
        },
        events,
        logger,
        clock,
        ...(fanout ? { fanout } : {}),
      },
    );
    // The team page's origins, known once the HTTP server listens: before that, no browser origin.
    let origins: string[] = [];
    let ports;
    try {
      ports = composition.ports();
    } catch (error) {
      throw new LocalStackError((error as Error).message);
    }
    const deps = { ports, limiter: composition.limiter() };
    // Delivery: the same consumer Lambda runs on the table's stream, fed from DynamoDB Local's
    // stream, reading before any client can connect so no change is missed. A new table is read
    // from its first record; an existing one from now (what was written while the stack was down
    // was delivered to nobody, and replaying it would only repeat old events).
    const stream = new DynamoDbStreamReader({
      tableName,
      connection: { endpoint: dynamoEndpoint },
      handler: makeStreamHandler({ ports }),
      onFailure: (failure) =>
        logger.error('changes not delivered after every attempt (the on-failure destination)', {
          shardId: failure.shardId,
          records: failure.records.length,
          error: failure.error === undefined ? undefined : String(failure.error),
        }),
      logger,
      from: tableCreated ? 'trim-horizon' : 'latest',
    });
    try {
      await stream.start();
    } catch (error) {
      throw new LocalStackError(`cannot read the stream of table ${tableName}: ${(error as Error).message}`);
    }
    cleanups.push(() => stream.stop());
    try {
      emulator = await WebSocketEmulator.start({
        port: wsPort,
        managementPort,
        host: HOST,
        clock,
        logger,
        ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
        ...(options.maxLifetimeMs !== undefined ? { maxLifetimeMs: options.maxLifetimeMs } : {}),
        ...(options.dropDisconnect !== undefined ? { dropDisconnect: options.dropDisconnect } : {}),
        handlers: makeWebSocketApi({ ...deps, verifier }),
        allowedOrigins: () => origins,
      });
    } catch (error) {
      if ((error as { port?: number }).port === managementPort && managementPort !== wsPort) {
        portInUse(error, '@connections', 'PRESENCE_MANAGEMENT_PORT', managementPort);
      }
      portInUse(error, 'WebSocket API', 'PRESENCE_WS_PORT', wsPort);
    }
    const ws = emulator;
    cleanups.push(() => ws.stop());

    const delivered = async () => {
      await ws.idle();
      await stream.drained();
      await ws.idle();
    };

    const timed = options.sweepTimer !== false;
    // With the timer (real time), each pass settles what falls due before the next at its deadline,
    // as the Lambda sweeper does; a test driving a manual clock sweeps only what is already due.
    // Stopping ends a pass's wait at once: what it waited for is not yet due, so it settles nothing.
    const stopWaits = new AbortController();
    const sleep = (ms: number) => delay(ms, undefined, { signal: stopWaits.signal }).catch(() => undefined);
    const sweeper = makeSweeperHandler({
      ports,
      sleep: timed ? sleep : async () => {},
      windowMs: 0,
      reserveMs: 0,
      lookAhead: timed,
      stopping: () => stopWaits.signal.aborted,
    });
    let sweeping: Promise<SweeperResult> | undefined;
    // Passes never overlap: a second call waits for the one in flight.
    const sweep = async (): Promise<SweeperResult> => {
      while (sweeping) await sweeping.catch(() => {});
      sweeping = sweeper();
      try {
        return await sweeping;
      } finally {
        sweeping = undefined;
      }
    };
    if (timed) {
      let timer: NodeJS.Timeout | undefined;
      let running = true;
      // Fixed rate, as the Lambda sweeper: a pass starts one interval after the previous one
      // started (at once if that one took longer), so each pass's look-ahead meets the next.
      const tick = () => {
        const startedAt = Date.now();
        sweep()
          .catch((error: unknown) => logger.error('sweep failed', { error: String(error) }))
          .finally(() => {
            if (running) timer = setTimeout(tick, Math.max(0, startedAt + ports.config.sweepIntervalMs - Date.now()));
          });
      };
      timer = setTimeout(tick, ports.config.sweepIntervalMs);
      cleanups.push(async () => {
        running = false;
        clearTimeout(timer);
        stopWaits.abort();
        while (sweeping) await sweeping.catch(() => {});
      });
    }

    const page = options.page ?? (await buildPage());
    let http: LocalHttpServer;
    try {
      http = await LocalHttpServer.start({
        port: httpPort,
        host: HOST,
        handler: makeHttpHandler({ ports, verifier }),
        page,
        // Three beats per lease, at most the protocol's 30 s, so one lost beat never ends a lease.
        pageConfig: { wsUrl: ws.url, heartbeatIntervalMs: Math.min(30_000, Math.floor(ports.config.leaseMs / 3)) },
        devTokens: devSignIn ? signing : undefined,
        clock,
        logger,
      });
    } catch (error) {
      portInUse(error, 'HTTP API', 'PRESENCE_HTTP_PORT', httpPort);
    }
    cleanups.push(() => http.stop());
    origins = pageOrigins(http.url);

    // Booted now, after everything else is up, so the first large fan-out does not wait for them.
    if (workerCount > 0) startWorkers();
    let stopping: Promise<void> | undefined;
    return {
      httpUrl: http.url,
      wsUrl: ws.url,
      managementUrl: ws.managementUrl,
      dynamoEndpoint,
      tableName,
      devSecretInUse,
      devSignIn,
      signing,
      emulator: ws,
      sweep,
      delivered,
      fanoutChunks: () => workers?.chunks ?? 0,
      stop: () => (stopping ??= cleanup()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
