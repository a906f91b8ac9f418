/**
 * Per-connection message budgets: a token bucket per connection, held in memory by the function
 * instance. A flood is refused before it costs a DynamoDB read or write or a fan-out. Lambda runs
 * many instances, so this is a per-instance bound; the stage's throttling is the account-wide one.
 */
import type { MessageAction } from '#app/routes.ts';
export interface RateLimitConfig {
  /** Tokens a connection can spend at once. */
  burst: number;
  /** Tokens regained per second. */
  perSecond: number;
}

/** What each action costs: status changes fan out, snapshots read a whole scope. */
const ACTION_COST: Record<MessageAction, number> = {
  heartbeat: 1,
  setStatus: 4,
  getPresence: 5,
  subscribe: 5,
  logout: 1,
};
const OTHER_COST = 1;
/** Connections remembered; the oldest are forgotten first (a closed connection sends nothing). */
const MAX_TRACKED = 10_000;
/** A limited connection is told at most this often, so refusals do not become a flood of posts. */
const NOTICE_SPACING_MS = 1000;

interface Bucket {
  tokens: number;
  updatedAt: number;
  noticedAt: number;
}

export type RateDecision = 'allow' | 'refuse' | 'refuse-silently';

export class ConnectionRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly config: RateLimitConfig) {}

  take(connectionId: string, action: string, now: number): RateDecision {
    const cost = ACTION_COST[action as MessageAction] ?? OTHER_COST;
    let bucket = this.buckets.get(connectionId);
    if (bucket) {
      this.buckets.delete(connectionId); // re-inserted below: Map order is recency
      bucket.tokens = Math.min(this.config.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.config.perSecond);
      bucket.updatedAt = now;
    } else {
      bucket = { tokens: this.config.burst, updatedAt: now, noticedAt: Number.NEGATIVE_INFINITY };
      if (this.buckets.size >= MAX_TRACKED) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    }
    this.buckets.set(connectionId, bucket);
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return 'allow';
    }
    if (now - bucket.noticedAt < NOTICE_SPACING_MS) return 'refuse-silently';
    bucket.noticedAt = now;
    return 'refuse';
  }

  forget(connectionId: string): void {
    this.buckets.delete(connectionId);
  }
}
