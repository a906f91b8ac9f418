/**
 * Pending requests: calls waiting for the server's answer (setStatus, subscribe, logout), and
 * calls waiting for the connection to be ready (connect, logout while reconnecting). Each is
 * resolved by the message or event it waits for, or rejected after its timeout or on close.
 */
import { PresenceClientError } from './errors.ts';
import type { ServerMessage } from './protocol.ts';

type Waiter = { match: (message: ServerMessage) => boolean; resolve: (message: ServerMessage) => void };

/** Requests waiting for a server message; the oldest one a message answers gets it. */
export class Waiters {
  private pending: Waiter[] = [];

  constructor(private readonly timeoutMs: number) {}

  /**
   * The first message `match` accepts. Rejects with `timeout` after the timeout, and with
   * `closed` when it is resolved with a `closed` error (the client closed).
   */
  waitFor(match: (message: ServerMessage) => boolean): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = this.pending.filter((waiter) => waiter !== entry);
        reject(new PresenceClientError('timeout', `no answer from the server within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      const entry: Waiter = {
        match,
        resolve: (message) => {
          clearTimeout(timer);
          if (message.type === 'error' && message.code === 'closed') reject(new PresenceClientError('closed', message.message));
          else resolve(message);
        },
      };
      this.pending.push(entry);
    });
  }

  /** Resolves the oldest waiter the message answers; true if one did. */
  resolveWaiters(message: ServerMessage): boolean {
    const index = this.pending.findIndex((waiter) => waiter.match(message));
    if (index < 0) return false;
    const [waiter] = this.pending.splice(index, 1);
    waiter?.resolve(message);
    return true;
  }

  /** Resolves every waiter the message answers (a connection's last word: none will follow on it). */
  resolveMatching(message: ServerMessage): void {
    const waiting = this.pending.filter((waiter) => waiter.match(message));
    this.pending = this.pending.filter((waiter) => !waiting.includes(waiter));
    for (const waiter of waiting) waiter.resolve(message);
  }

  /** Resolves every waiter with this message, whatever they wait for. */
  resolveAll(message: ServerMessage): void {
    for (const waiter of this.pending.splice(0)) waiter.resolve(message);
  }
}

type ReadyWaiter = { resolve: () => void; reject: (error: PresenceClientError) => void };

/** Calls waiting for the connection to be ready (its first snapshot in). */
export class ReadyWaiters {
  private pending: ReadyWaiter[] = [];

  /** Resolves at once if `ready`, else when the connection is. */
  wait(ready: boolean): Promise<void> {
    if (ready) return Promise.resolve();
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  }

  /** wait, or a `timeout` rejection after `ms`. */
  waitWithin(ready: boolean, ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = this.pending.filter((waiter) => waiter !== entry);
        reject(new PresenceClientError('timeout', `no connection within ${ms} ms`));
      }, ms);
      const entry = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: PresenceClientError) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      if (ready) entry.resolve();
      else this.pending.push(entry);
    });
  }

  resolveAll(): void {
    for (const waiter of this.pending.splice(0)) waiter.resolve();
  }

  rejectAll(error: PresenceClientError): void {
    for (const waiter of this.pending.splice(0)) waiter.reject(error);
  }
}
