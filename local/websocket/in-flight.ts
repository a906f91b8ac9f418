/**
 * The emulator's work in flight: handshakes (authorizer and `$connect`), route handler calls,
 * `$disconnect` calls and `@connections` requests. Tests and the bench wait on it as a barrier.
 */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  get size(): number {
    return this.pending.size;
  }

  /** Counts `promise` until it settles; returns it unchanged. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const done = () => this.pending.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /**
   * Resolves once nothing is in flight, including work that starts while it waits. Nothing is
   * queued behind it: a message still in a socket's buffer counts only once it is read.
   */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
