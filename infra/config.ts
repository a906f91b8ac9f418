/**
 * The deployment's configuration, read once from CDK context (cdk.json or `-c key=value`) and
 * validated: a bad value fails the synth with a message naming the key.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { TIMING_LIMITS } from './presence-service.ts';

type JwtConfig =
  /** HS256 with a secret in Secrets Manager: an existing one (`jwtSecretArn`) or one the stateful stack creates. */
  | { mode: 'secret'; secretArn?: string; issuer?: string; audience?: string }
  /** RS256/ES256 keys from a JWKS URL; issuer and audience are then required. */
  | { mode: 'jwks'; jwksUrl: string; issuer: string; audience: string };

export interface PresenceDeployConfig {
  stage: string;
  jwt: JwtConfig;
  idleTimeoutSeconds: number;
  leaseSeconds: number;
  graceSeconds: number;
  sweepIntervalSeconds: number;
  /** Account ids or IAM principal ARNs allowed to invoke the online-agents function. */
  onlineAgentsInvokers: string[];
  /** Alarms notify this SNS topic when set. */
  alarmTopicArn?: string;
  logRetentionDays: number;
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * Set API Gateway's account-wide CloudWatch Logs role (needed once per account and region before a
   * WebSocket stage may write access logs). Off by default: it is account state, not this stage's.
   */
  apiGatewayCloudWatchRole: boolean;
}

class DeployConfigError extends Error {
  override readonly name = 'DeployConfigError';
}

type Context = (key: string) => unknown;

function text(context: Context, key: string): string | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new DeployConfigError(`context ${key} must be a string`);
  return value;
}

/** `-c key=5` arrives as a string, cdk.json may hold a number: both are accepted. */
function number(context: Context, key: string, fallback: number, min: number, max: number): number {
  const raw = context(key);
  if (raw === undefined || raw === '') return fallback;
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new DeployConfigError(`context ${key} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** A JSON array in cdk.json, or a comma-separated string on the command line. */
function list(context: Context, key: string): string[] {
  const raw = context(key);
  if (raw === undefined || raw === '') return [];
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : null;
  if (!items?.every((item) => typeof item === 'string')) {
    throw new DeployConfigError(`context ${key} must be a list of strings or a comma-separated string`);
  }
  return items.map((item) => item.trim()).filter(Boolean);
}

/** `-c key=true` arrives as a string, cdk.json may hold a boolean. */
function flag(context: Context, key: string): boolean {
  const raw = context(key);
  if (raw === undefined || raw === '' || raw === false || raw === 'false') return false;
  if (raw === true || raw === 'true') return true;
  throw new DeployConfigError(`context ${key} must be true or false`);
}

const ACCOUNT_ID = /^\d{12}$/;
const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+$/;
const STAGE_NAME = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;
const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

export function readDeployConfig(node: Pick<Node, 'tryGetContext'>): PresenceDeployConfig {
  const context: Context = (key) => node.tryGetContext(key);
  const stage = text(context, 'stage') ?? 'dev';
  if (!STAGE_NAME.test(stage)) throw new DeployConfigError('context stage must be a letter then up to 31 letters, digits or dashes');

  const jwksUrl = text(context, 'jwksUrl');
  const secretArn = text(context, 'jwtSecretArn');
  const issuer = text(context, 'jwtIssuer');
  const audience = text(context, 'jwtAudience');
  let jwt: JwtConfig;
  if (jwksUrl) {
    if (secretArn) throw new DeployConfigError('set jwksUrl or jwtSecretArn, not both');
    if (!jwksUrl.startsWith('https://')) throw new DeployConfigError('context jwksUrl must be an https:// URL');
    if (!issuer || !audience) throw new DeployConfigError('with jwksUrl, set jwtIssuer and jwtAudience too');
    jwt = { mode: 'jwks', jwksUrl, issuer, audience };
  } else {
    if (secretArn && !/^arn:aws[a-z-]*:secretsmanager:/.test(secretArn)) {
      throw new DeployConfigError('context jwtSecretArn must be a Secrets Manager secret ARN');
    }
    jwt = {
      mode: 'secret',
      ...(secretArn ? { secretArn } : {}),
      ...(issuer ? { issuer } : {}),
      ...(audience ? { audience } : {}),
    };
  }

  const limit = (key: keyof typeof TIMING_LIMITS, max = TIMING_LIMITS[key].max) =>
    number(context, key, TIMING_LIMITS[key].default, TIMING_LIMITS[key].min, max);
  const leaseSeconds = limit('leaseSeconds');
  const onlineAgentsInvokers = list(context, 'onlineAgentsInvokers');
  for (const principal of onlineAgentsInvokers) {
    if (!ACCOUNT_ID.test(principal) && !PRINCIPAL_ARN.test(principal)) {
      throw new DeployConfigError(`onlineAgentsInvokers: ${principal} is neither an account id nor an IAM principal ARN`);
    }
  }
  const alarmTopicArn = text(context, 'alarmTopicArn');
  if (alarmTopicArn && !/^arn:aws[a-z-]*:sns:/.test(alarmTopicArn)) {
    throw new DeployConfigError('context alarmTopicArn must be an SNS topic ARN');
  }
  const logLevel = (text(context, 'logLevel') ?? 'INFO').toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new DeployConfigError(`context logLevel must be one of ${LOG_LEVELS.join(', ')}`);
  }

  const logRetentionDays = number(context, 'logRetentionDays', 30, 1, 3653);
  if (!(Object.values(RetentionDays) as number[]).includes(logRetentionDays)) {
    throw new DeployConfigError('context logRetentionDays must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, ...)');
  }

  return {
    stage,
    jwt,
    idleTimeoutSeconds: limit('idleTimeoutSeconds'),
    leaseSeconds,
    graceSeconds: limit('graceSeconds', leaseSeconds),
    sweepIntervalSeconds: limit('sweepIntervalSeconds'),
    onlineAgentsInvokers,
    ...(alarmTopicArn ? { alarmTopicArn } : {}),
    logRetentionDays,
    logLevel: logLevel as PresenceDeployConfig['logLevel'],
    apiGatewayCloudWatchRole: flag(context, 'apiGatewayCloudWatchRole'),
  };
}
