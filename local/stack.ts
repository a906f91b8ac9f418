/**
 * The whole service on one machine: DynamoDB Local, the WebSocket emulator with its
 * `@connections` endpoint, the HTTP API and page, the sweeper on a timer, and the delivery
 * consumer reading the table's stream. Every request runs
 * through the same handler factories and composition Lambda uses; only the adapters' endpoints
 * and the event publisher differ.
 *
 * This module wires them, in the order that loses no change, and stops them in reverse; its
 * settings are read in stack-settings.ts, the table is started in stack-database.ts, the ways
 * to the emulator's `@connections` are made in emulator-clients.ts, the timer in sweeper-timer.ts.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Clock, Logger } from '#app/ports.ts';
import { compose } from '#handlers/composition.ts';
import { makeHttpHandler } from '#handlers/http.ts';
import type { SweeperResult } from '#handlers/sweeper.ts';
import { makeWebSocketApi } from '#handlers/websocket.ts';
import { DynamoDbStreamReader } from '#local/stream/reader.ts';
import { makeStreamHandler } from '#handlers/stream.ts';
import { emulatorFanoutWorkers, emulatorGateway } from '#local/emulator-clients.ts';
import { LocalEventPublisher } from '#local/events.ts';
import { LocalHttpServer, type PageAssets } from '#local/http-server.ts';
import { buildPage } from '#local/page/build.ts';
import { pageOrigins } from '#local/loopback.ts';
import { startDatabase } from '#local/stack-database.ts';
import { type Env, LOCAL_MAX_SOCKETS, LocalStackError, portInUse, readStackSettings, withLocalDefaults } from '#local/stack-settings.ts';
import { startSweeper } from '#local/sweeper-timer.ts';
import type { SigningSettings } from '#local/tokens.ts';
import { WebSocketEmulator } from '#local/websocket/server.ts';

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

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = withLocalDefaults(options.env ?? process.env);
  // Fails on bad settings before anything starts.
  const { httpPort, wsPort, managementPort, tableName, devSecretInUse, devSignIn, jwtEnv, verifier, signing, workerCount } = readStackSettings(env, options);
  const clock = options.clock ?? { now: () => Date.now() };
  const logger = options.logger ?? new PowertoolsLogger({ serviceName: 'presence-local', logLevel: (env.POWERTOOLS_LOG_LEVEL as 'INFO') ?? 'INFO' });

  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => {});
  };
  try {
    const { dynamoEndpoint, tableCreated } = await startDatabase(env, tableName, cleanups);

    const events = new LocalEventPublisher({ logger, webhookUrl: env.PRESENCE_EVENTS_WEBHOOK || undefined });
    // The emulator's @connections, for the handlers and the fan-out workers, once it is listening.
    let emulator: WebSocketEmulator | undefined;
    const managementUrl = () => emulator?.managementUrl;
    const connections = emulatorGateway(env, managementUrl);
    cleanups.push(() => connections.destroy());
    // Parallel fan-out invocations, as worker threads (started once the stack is up).
    const workers = emulatorFanoutWorkers(env, workerCount, managementUrl, logger);
    cleanups.push(() => workers.stop());
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
        gateway: connections.gateway,
        events,
        logger,
        clock,
        ...(workers.fanout ? { fanout: workers.fanout } : {}),
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

    const sweeper = startSweeper({ ports, timed: options.sweepTimer !== false, logger });
    cleanups.push(() => sweeper.stop());

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
    if (workerCount > 0) workers.start();
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
      sweep: () => sweeper.sweep(),
      delivered,
      fanoutChunks: () => workers.chunks(),
      stop: () => (stopping ??= cleanup()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
