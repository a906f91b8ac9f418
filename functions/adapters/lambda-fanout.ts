/** Fan-out chunks to the fan-out function, one synchronous invocation each (they run in parallel). */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { z } from 'zod';
import { FanoutDispatchError } from '#app/errors.ts';
import type { ChunkReport, FanoutChunk, FanoutDispatcher } from '#app/ports.ts';

/** Network errors raised before a request is sent. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function notSent(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 400 && status < 500;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
  // The HTTP handler's connection timeout: no connection, so nothing was sent.
  return error instanceof Error && error.message.includes('did not establish a connection');
}

const chunkReportSchema = z.object({
  posted: z.number(),
  failed: z.number(),
  opening: z.number(),
  gone: z.array(z.string()),
});

/**
 * RequestResponse, not Event: the sender learns each chunk's gone connections (it forgets them and
 * disconnects their users), and Lambda's automatic retries of async events could post a chunk twice.
 */
export class LambdaFanoutDispatcher implements FanoutDispatcher {
  constructor(
    private readonly client: LambdaClient,
    private readonly functionName: string,
  ) {}

  async post(chunk: FanoutChunk): Promise<ChunkReport> {
    let result;
    try {
      result = await this.client.send(
        new InvokeCommand({ FunctionName: this.functionName, Payload: new TextEncoder().encode(JSON.stringify(chunk)) }),
      );
    } catch (error) {
      // Refused, so the sender posts the chunk itself: a 4xx from the Lambda service (throttled,
      // not found, denied), or a failure before the request left (no connection). Anything else
      // (a 5xx, a reset or timeout after the request was sent) may have run the function, and is
      // not reposted: nothing is posted twice.
      const refused = notSent(error);
      throw new FanoutDispatchError(`invoking ${this.functionName} failed`, !refused, { cause: error });
    }
    const payload = result.Payload ? new TextDecoder().decode(result.Payload) : '';
    if (result.FunctionError) {
      throw new FanoutDispatchError(`${this.functionName} failed: ${payload.slice(0, 500)}`, true);
    }
    let report: ChunkReport;
    try {
      report = chunkReportSchema.parse(JSON.parse(payload));
    } catch (error) {
      // It ran (posts may have been made) but answered something else: a sender and a function
      // from different deployments, say. Counted as failed, never reposted.
      throw new FanoutDispatchError(`${this.functionName} answered no chunk report: ${payload.slice(0, 200)}`, true, { cause: error });
    }
    return report;
  }
}
