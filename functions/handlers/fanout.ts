/**
 * The fan-out function: posts one chunk of a large fan-out, invoked by the function that made the
 * transition. It needs only the management API: the delivery consumer forgets gone connections and publishes
 * the events, so a chunk never touches the table.
 */
import type { Context } from 'aws-lambda';
import { postChunk } from '#app/fanout.ts';
import type { ChunkReport, ConnectionGateway, Logger } from '#app/ports.ts';
import { describeIssues, fanoutChunkSchema } from '#handlers/schemas.ts';

export interface FanoutDeps {
  gateway: ConnectionGateway;
  logger: Logger;
  fanoutConcurrency: number;
  /** A post may take this long (PRESENCE_POST_TIMEOUT_MS): none starts with less time left. */
  postTimeoutMs: number;
}

/** Time kept beyond the last post's timeout to answer the consumer. */
const ANSWER_MARGIN_MS = 500;

/** An event that is not a chunk is our own bug: it fails the invocation, and the consumer logs it. */
export class InvalidChunkError extends Error {
  override readonly name = 'InvalidChunkError';
}

export function makeFanoutHandler(deps: FanoutDeps) {
  const ports = { gateway: deps.gateway, logger: deps.logger, config: { fanoutConcurrency: deps.fanoutConcurrency } };
  return async (event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<ChunkReport> => {
    const parsed = fanoutChunkSchema.safeParse(event);
    if (!parsed.success) throw new InvalidChunkError(`not a fan-out chunk: ${describeIssues(parsed.error)}`);
    let skipped = 0;
    const outOfTime = context
      ? () => {
          const out = context.getRemainingTimeInMillis() < deps.postTimeoutMs + ANSWER_MARGIN_MS;
          if (out) skipped++;
          return out;
        }
      : undefined;
    const report = await postChunk(ports, parsed.data, outOfTime);
    if (skipped > 0) deps.logger.warn('fan-out chunk ran out of time', { connections: parsed.data.connections.length, skipped });
    return report;
  };
}
