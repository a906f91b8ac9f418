/**
 * The local stand-in for parallel fan-out invocations: a few worker threads, each running the
 * fan-out handler. Without them every post of a large fan-out would share the one thread that
 * also runs the emulator and every other handler.
 */
import { Worker } from 'node:worker_threads';
import { FanoutDispatchError } from '#app/errors.ts';
import type { ChunkReport, FanoutChunk, FanoutDispatcher, Logger } from '#app/ports.ts';

export interface WorkerRequest {
  id: number;
  chunk: FanoutChunk;
}

export type WorkerReply = { id: number; report: ChunkReport } | { id: number; error: string };

interface Pending {
  resolve(report: ChunkReport): void;
  reject(error: Error): void;
}

class FanoutWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private exited = false;

  constructor(env: Record<string, string | undefined>, logger: Logger) {
    this.worker = new Worker(new URL('./fanout-worker-boot.mjs', import.meta.url), {
      workerData: { entry: new URL('./fanout-worker.ts', import.meta.url).href, env },
      // The SDK reads credentials and region from the thread's own process.env.
      env: Object.fromEntries(Object.entries({ ...process.env, ...env }).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    });
    this.worker.on('message', (reply: WorkerReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if ('report' in reply) waiting.resolve(reply.report);
      else waiting.reject(new FanoutDispatchError(`fan-out worker failed: ${reply.error}`, true));
    });
    this.worker.on('error', (error) => logger.error('fan-out worker failed', { error: String(error) }));
    this.worker.on('exit', () => {
      this.exited = true;
      // Chunks in flight may have been partly posted: not reposted, as with a failed invocation.
      for (const waiting of this.pending.values()) waiting.reject(new FanoutDispatchError('fan-out worker exited', true));
      this.pending.clear();
    });
  }

  get available(): boolean {
    return !this.exited;
  }

  post(chunk: FanoutChunk): Promise<ChunkReport> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, chunk } satisfies WorkerRequest);
    });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

export class WorkerFanoutDispatcher implements FanoutDispatcher {
  private readonly workers: FanoutWorker[];
  private next = 0;
  /** Chunks handed to a worker so far. */
  chunks = 0;

  /** `env` gives the workers the callback URL, credentials for signing, and the post settings. */
  constructor(count: number, env: Record<string, string | undefined>, logger: Logger) {
    this.workers = Array.from({ length: count }, () => new FanoutWorker(env, logger));
  }

  async post(chunk: FanoutChunk): Promise<ChunkReport> {
    const alive = this.workers.filter((worker) => worker.available);
    // Refused before anything ran: the sender posts the chunk itself.
    if (alive.length === 0) throw new FanoutDispatchError('no fan-out worker is running', false);
    const worker = alive[this.next++ % alive.length]!;
    this.chunks++;
    return worker.post(chunk);
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop()));
  }
}
