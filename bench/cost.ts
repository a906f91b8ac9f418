/**
 * The cost model: counted operations of one simulated agent-hour priced with the dated list-price
 * file. Per 1,000 agent-hours, with the sweeper's fixed cost shared by 1,000 concurrent agents.
 */
import { readFileSync } from 'node:fs';
import type { HourResult } from './units.ts';

export const PRICES_FILE = 'bench/prices-2026-11.json';

export interface Prices {
  region: string;
  asOf: string;
  apiGatewayWebSocket: { usdPerMillionMessages: number; usdPerMillionConnectionMinutes: number };
  lambda: { usdPerGbSecond: number; usdPerMillionRequests: number; memoryMb: number };
  dynamodbOnDemand: { usdPerMillionWriteRequestUnits: number; usdPerMillionReadRequestUnits: number };
  eventBridge: { usdPerMillionCustomEvents: number };
  eventBridgeScheduler: { usdPerMillionInvocations: number };
}

export function loadPrices(): Prices {
  return JSON.parse(readFileSync(new URL('./prices-2026-11.json', import.meta.url), 'utf8')) as Prices;
}

export interface CostAssumptions {
  /** API Gateway closes a connection after 2 hours; the SDK reconnects, so one session per 2 hours. */
  sessionHours: number;
  /** Agents connected at once, who share the sweeper's fixed cost. */
  concurrentAgents: number;
  /** The sweeper runs its whole 60 s window every minute (infra: 1-minute schedule, 60 s window). */
  sweeperBilledSecondsPerHour: number;
  sweeperInvocationsPerHour: number;
  sweepPassesPerHour: number;
}

const ASSUMPTIONS: CostAssumptions = {
  sessionHours: 2,
  concurrentAgents: 1000,
  sweeperBilledSecondsPerHour: 3600,
  sweeperInvocationsPerHour: 60,
  sweepPassesPerHour: 720,
};

export interface CostBreakdown {
  apiGatewayMessages: number;
  apiGatewayConnectionMinutes: number;
  lambdaRequests: number;
  lambdaDuration: number;
  dynamodbWrites: number;
  dynamodbReads: number;
  eventBridge: number;
  sweeperFixedShare: number;
  total: number;
}

/** USD per 1,000 agent-hours of the profile `hour` measured. */
export function costPer1000AgentHours(hour: HourResult, prices: Prices, a: CostAssumptions = ASSUMPTIONS): CostBreakdown {
  const perMillion = (count: number, usd: number) => (count * 1000 * usd) / 1e6;
  const sessions = 1 / a.sessionHours;
  const gb = prices.lambda.memoryMb / 1024;
  // Inbound heartbeats and outbound posts are both billed messages (each under 32 KB).
  const messages = hour.heartbeats + hour.posts + sessions * hour.session.posts;
  const invocations = hour.invocations + sessions * hour.session.invocations;
  const billedSeconds = (hour.billedMs + sessions * hour.session.billedMs) / 1000;
  const wru = hour.wru + sessions * hour.session.wru;
  const rru = hour.rru + sessions * hour.session.rru;
  const events = hour.events + sessions * hour.session.events;
  const sweeperPerDeploymentHour =
    (a.sweeperInvocationsPerHour * prices.lambda.usdPerMillionRequests) / 1e6 +
    a.sweeperBilledSecondsPerHour * gb * prices.lambda.usdPerGbSecond +
    (a.sweeperInvocationsPerHour * prices.eventBridgeScheduler.usdPerMillionInvocations) / 1e6 +
    (a.sweepPassesPerHour * hour.sweep.rruPerEmptyPass * prices.dynamodbOnDemand.usdPerMillionReadRequestUnits) / 1e6;
  const breakdown: Omit<CostBreakdown, 'total'> = {
    apiGatewayMessages: perMillion(messages, prices.apiGatewayWebSocket.usdPerMillionMessages),
    apiGatewayConnectionMinutes: perMillion(60, prices.apiGatewayWebSocket.usdPerMillionConnectionMinutes),
    lambdaRequests: perMillion(invocations, prices.lambda.usdPerMillionRequests),
    lambdaDuration: billedSeconds * gb * prices.lambda.usdPerGbSecond * 1000,
    dynamodbWrites: perMillion(wru, prices.dynamodbOnDemand.usdPerMillionWriteRequestUnits),
    dynamodbReads: perMillion(rru, prices.dynamodbOnDemand.usdPerMillionReadRequestUnits),
    eventBridge: perMillion(events, prices.eventBridge.usdPerMillionCustomEvents),
    sweeperFixedShare: (sweeperPerDeploymentHour / a.concurrentAgents) * 1000,
  };
  const total = Object.values(breakdown).reduce((sum, value) => sum + value, 0);
  return { ...breakdown, total };
}

/**
 * Worst case from a client's death to teammates seeing `timeout`: it dies just after a beat that
 * renewed the lease, so the full lease runs, then up to one sweep interval until the next pass.
 */
export function worstCaseDetectionSeconds(leaseSeconds: number, sweepIntervalSeconds: number): number {
  return leaseSeconds + sweepIntervalSeconds;
}
