/**
 * One local "fan-out function instance": a worker thread running the fan-out handler Lambda runs,
 * with its own SDK client for the emulator's management API. Chunks arrive as messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Logger } from '@aws-lambda-powertools/logger';
import { fanoutDepsFromEnv } from '#handlers/connections-wiring.ts';
import { makeFanoutHandler } from '#handlers/fanout.ts';
import type { WorkerReply, WorkerRequest } from '#local/fanout-workers.ts';

const env = (workerData as { env: Record<string, string | undefined> }).env;
const handler = makeFanoutHandler(
  fanoutDepsFromEnv(env, new Logger({ serviceName: 'presence-local-fanout', logLevel: (env.POWERTOOLS_LOG_LEVEL as 'INFO') ?? 'INFO' })),
);

const port = parentPort!;
port.on('message', (request: WorkerRequest) => {
  handler(request.chunk).then(
    (report) => port.postMessage({ id: request.id, report } satisfies WorkerReply),
    (error: unknown) => port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies WorkerReply),
  );
});
