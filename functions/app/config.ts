/** Configuration from the environment, read once and validated: a bad value fails the cold start. */
import { ConfigurationError } from '#app/errors.ts';
import type { PresenceConfig } from '#app/ports.ts';

const PROTOCOL_MIN_IDLE_TIMEOUT_SECONDS = 60;
const MAX_IDLE_TIMEOUT_SECONDS = 86_400;
const PROTOCOL_MIN_UNAVAILABLE_AFTER_SECONDS = 30;
/**
 * The highest cap allowed: each connection is an entry (id and time, about 40 bytes) of the agent
 * item, which must stay far below DynamoDB's 400 KB item limit.
 */
const MAX_CONNECTIONS_PER_USER = 200;

type Env = Record<string, string | undefined>;

export function readNumber(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new ConfigurationError(`${name} must be a number >= ${min}, got "${raw}"`);
  }
  return value;
}

export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigurationError(`${name} must be set`);
  return value;
}

export function presenceConfigFromEnv(env: Env): PresenceConfig {
  const minIdle = readNumber(env, 'PRESENCE_MIN_IDLE_TIMEOUT_SECONDS', PROTOCOL_MIN_IDLE_TIMEOUT_SECONDS, 1);
  const config: PresenceConfig = {
    leaseMs: readNumber(env, 'PRESENCE_CONNECTION_LEASE_SECONDS', 90, 1) * 1000,
    graceMs: readNumber(env, 'PRESENCE_RECONNECT_GRACE_SECONDS', 10) * 1000,
    defaultIdleTimeoutSeconds: readNumber(env, 'PRESENCE_IDLE_TIMEOUT_SECONDS', 600, 1),
    minIdleTimeoutSeconds: minIdle,
    minUnavailableAfterSeconds: readNumber(env, 'PRESENCE_MIN_UNAVAILABLE_AFTER_SECONDS', PROTOCOL_MIN_UNAVAILABLE_AFTER_SECONDS, 1),
    maxIdleTimeoutSeconds: MAX_IDLE_TIMEOUT_SECONDS,
    sweepIntervalMs: readNumber(env, 'PRESENCE_SWEEP_INTERVAL_SECONDS', 5, 0.1) * 1000,
    fanoutConcurrency: readNumber(env, 'PRESENCE_FANOUT_CONCURRENCY', 32, 1),
    fanoutChunkSize: readNumber(env, 'PRESENCE_FANOUT_CHUNK_SIZE', 100, 1),
    agentRetentionMs: readNumber(env, 'PRESENCE_AGENT_RETENTION_DAYS', 90, 1) * 86_400_000,
    historyRetentionMs: readNumber(env, 'PRESENCE_HISTORY_RETENTION_DAYS', 400, 1) * 86_400_000,
    maxConnectionsPerUser: readNumber(env, 'PRESENCE_MAX_CONNECTIONS_PER_USER', 20, 1),
  };
  if (!Number.isInteger(config.maxConnectionsPerUser) || config.maxConnectionsPerUser > MAX_CONNECTIONS_PER_USER) {
    throw new ConfigurationError(
      `PRESENCE_MAX_CONNECTIONS_PER_USER must be a whole number from 1 to ${MAX_CONNECTIONS_PER_USER}, got "${env.PRESENCE_MAX_CONNECTIONS_PER_USER}"`,
    );
  }
  if (!Number.isInteger(config.fanoutChunkSize)) {
    throw new ConfigurationError(`PRESENCE_FANOUT_CHUNK_SIZE must be a whole number, got "${env.PRESENCE_FANOUT_CHUNK_SIZE}"`);
  }
  if (config.defaultIdleTimeoutSeconds < minIdle || config.defaultIdleTimeoutSeconds > MAX_IDLE_TIMEOUT_SECONDS) {
    throw new ConfigurationError(
      `PRESENCE_IDLE_TIMEOUT_SECONDS must be from ${minIdle} to ${MAX_IDLE_TIMEOUT_SECONDS}`,
    );
  }
  return config;
}
