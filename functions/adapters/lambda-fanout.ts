/** Fan-out chunks to the fan-out function, one synchronous invocation each (they run in parallel). */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { z } from 'zod';
import { FanoutDispatchError } from '#app/errors.ts';
import type { ChunkReport, FanoutChunk, FanoutDispatcher } from '#app/ports.ts';

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
      // A 4xx from the Lambda service (throttled, not found, denied) means the function did not
      // run, and the sender posts the chunk itself. So does an error with no answer at all (a
      // refused connection, a keep-alive socket gone stale while the sender was frozen): the chunk
      // is posted again rather than lost, and in the rare case that the function had run, a client
      // gets the change twice (the client SDK ignores a repeat: same `at` and status). A 5xx may
      // have run it and is not reposted.
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const refused = status === undefined || (status >= 400 && status < 500);
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
