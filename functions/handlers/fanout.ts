/**
 * The fan-out function: posts one chunk of a large fan-out, invoked by the function that made the
 * transition. It needs only the management API: the sender forgets gone connections and publishes
 * the events, so a chunk never touches the table.
 */
import { postChunk } from '#app/fanout.ts';
import type { ChunkReport, ConnectionGateway, Logger } from '#app/ports.ts';
import { describeIssues, fanoutChunkSchema } from '#handlers/schemas.ts';

export interface FanoutDeps {
  gateway: ConnectionGateway;
  logger: Logger;
  fanoutConcurrency: number;
}

/** An event that is not a chunk is our own bug: it fails the invocation, and the sender logs it. */
export class InvalidChunkError extends Error {
  override readonly name = 'InvalidChunkError';
}

export function makeFanoutHandler(deps: FanoutDeps) {
  const ports = { gateway: deps.gateway, logger: deps.logger, config: { fanoutConcurrency: deps.fanoutConcurrency } };
  return async (event: unknown): Promise<ChunkReport> => {
    const parsed = fanoutChunkSchema.safeParse(event);
    if (!parsed.success) throw new InvalidChunkError(`not a fan-out chunk: ${describeIssues(parsed.error)}`);
    return postChunk(ports, parsed.data);
  };
}
