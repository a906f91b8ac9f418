/**
 * The callers of drained() waiting on one shard: each waits until the shard's reader has handed
 * over every record present when it began to wait. An empty GetRecords answer shows that only for
 * a call that started after the wait began: so a waiter is armed when a GetRecords call starts,
 * and released when an armed waiter's call comes back empty, or when the shard ends.
 */
interface CatchUpWaiter {
  /** Set when a GetRecords call starts after the wait began: only its empty answer counts. */
  armed: boolean;
  resolve(): void;
  reject(error: Error): void;
}

export class CatchUpWaiters {
  private waiters: CatchUpWaiter[] = [];

  /** Resolves once released; rejects if the reader stops first. */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ armed: false, resolve, reject }));
  }

  /** A GetRecords call starts: its empty answer will release every waiter present now. */
  arm(): void {
    for (const waiter of this.waiters) waiter.armed = true;
  }

  /** A GetRecords call came back empty: releases the waiters armed when it started, and keeps the others. */
  releaseArmed(): void {
    const armed = this.waiters.filter((waiter) => waiter.armed);
    this.waiters = this.waiters.filter((waiter) => !waiter.armed);
    for (const waiter of armed) waiter.resolve();
  }

  /** The shard ended: nothing is left to hand over. */
  releaseAll(): void {
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  /** The reader stopped: each waiter gets an error of its own. */
  rejectAll(error: () => Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(error());
  }
}
