/**
 * Configuration by CDK context: JWT modes (a created HS256 secret, an existing one, or JWKS), the
 * online-agents invokers, the alarm topic, two stages side by side, and refusing bad values.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Match } from 'aws-cdk-lib/assertions';
import { readDeployConfig } from '../../infra/config.ts';
import { functionsByHandler, newApp, removeOutdirs, synthPresence } from './cdk-app.ts';

afterAll(removeOutdirs);

type Env = Record<string, unknown>;
function envOf(template: ReturnType<typeof synthPresence>['stateless'], handler: string): Env {
  return (functionsByHandler(template).get(handler)!.properties as { Environment: { Variables: Env } }).Environment.Variables;
}

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:presence-jwt-AbCdEf';
const ALARM_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:oncall';

const defaults = synthPresence();

/** One synth with every optional setting: synths are the slow part of these tests. */
const configured = synthPresence({
  stage: 'prod',
  jwtSecretArn: SECRET_ARN,
  jwtIssuer: 'https://issuer',
  jwtAudience: 'presence',
  onlineAgentsInvokers: '210987654321, arn:aws:iam::123456789012:role/assignment',
  alarmTopicArn: ALARM_TOPIC,
  leaseSeconds: '120',
  graceSeconds: 15,
  idleTimeoutSeconds: '900',
  sweepIntervalSeconds: '2',
  apiGatewayCloudWatchRole: 'true',
});

describe('JWT mode', () => {
  it('creates a retained HS256 secret in the stateful stack by default', () => {
    const { stateful } = defaults;
    stateful.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: { GenerateSecretString: Match.objectLike({ PasswordLength: 64 }) },
    });
  });

  it('uses an existing secret by ARN, with issuer and audience when given, and creates none', () => {
    const { stateful, stateless } = configured;
    stateful.resourceCountIs('AWS::SecretsManager::Secret', 0);
    for (const handler of ['authorizer', 'http']) {
      const env = envOf(stateless, handler);
      expect(env.PRESENCE_JWT_SECRET).toBe(`{{resolve:secretsmanager:${SECRET_ARN}:SecretString:::}}`);
      expect(env).toMatchObject({ PRESENCE_JWT_ISSUER: 'https://issuer', PRESENCE_JWT_AUDIENCE: 'presence' });
    }
  });

  it('verifies RS256/ES256 from a JWKS URL with issuer and audience, and has no secret at all', () => {
    const { stateful, stateless } = synthPresence({
      jwksUrl: 'https://id.example.com/.well-known/jwks.json',
      jwtIssuer: 'https://id.example.com/',
      jwtAudience: 'presence',
    });
    stateful.resourceCountIs('AWS::SecretsManager::Secret', 0);
    for (const handler of ['authorizer', 'http']) {
      const env = envOf(stateless, handler);
      expect(env).toMatchObject({
        PRESENCE_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
        PRESENCE_JWT_ISSUER: 'https://id.example.com/',
        PRESENCE_JWT_AUDIENCE: 'presence',
      });
      expect(env.PRESENCE_JWT_SECRET).toBeUndefined();
    }
  });
});

describe('other settings', () => {
  it('lets the configured principals invoke online-agents, and only that function', () => {
    const { stateless } = configured;
    const onlineAgents = functionsByHandler(stateless).get('onlineAgents')?.id;
    const permissions = Object.values(stateless.findResources('AWS::Lambda::Permission')).filter(
      (permission) => permission.Properties.Action === 'lambda:InvokeFunction' && JSON.stringify(permission).includes(`"${onlineAgents}"`),
    );
    expect(permissions.map((permission) => permission.Properties.Principal).sort()).toEqual([
      '210987654321',
      'arn:aws:iam::123456789012:role/assignment',
    ]);
  });

  it('sends alarms and their recovery to the configured SNS topic', () => {
    const topic = ALARM_TOPIC;
    const { stateless } = configured;
    const alarms = Object.values(stateless.findResources('AWS::CloudWatch::Alarm'));
    // The nine of README "Alarms and dashboard", the stream consumer's two included.
    expect(alarms).toHaveLength(9);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topic]);
      expect(alarm.Properties.OKActions).toEqual([topic]);
    }
  });

  it('passes timing settings to the functions that derive presence', () => {
    const { stateless } = configured;
    expect(envOf(stateless, 'heartbeat')).toMatchObject({
      PRESENCE_CONNECTION_LEASE_SECONDS: '120',
      PRESENCE_RECONNECT_GRACE_SECONDS: '15',
      PRESENCE_IDLE_TIMEOUT_SECONDS: '900',
    });
    expect(envOf(stateless, 'sweeper')).toMatchObject({ PRESENCE_SWEEP_INTERVAL_SECONDS: '2' });
  });

  it('names stacks by stage and nothing physically, so two stages fit in one account', () => {
    const { stateful, stateless, statelessStack } = configured;
    expect(statelessStack.stackName).toBe('Presence-prod-Stateless');
    const named: string[] = [];
    for (const template of [stateful, stateless]) {
      const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      for (const [id, resource] of Object.entries(resources)) {
        for (const key of ['FunctionName', 'TableName', 'RoleName', 'LogGroupName', 'DashboardName', 'QueueName', 'Name']) {
          const value = resource.Properties?.[key];
          // References to other resources are objects; a literal string is a hard-coded physical name.
          if (typeof value !== 'string' || resource.Type.startsWith('AWS::ApiGatewayV2::')) continue;
          // An event bus must have a name; CDK derives it from the stack path, so each stage gets its own.
          if (resource.Type === 'AWS::Events::EventBus' && String(value).startsWith('PresenceprodStateful')) continue;
          named.push(`${id}.${key}`);
        }
      }
    }
    expect(named).toEqual([]);
  });
});

describe('API Gateway account logging role', () => {
  it('is set, retained, before the WebSocket stage, only when asked', () => {
    const { stateless } = configured;
    const accounts = stateless.findResources('AWS::ApiGateway::Account');
    expect(Object.values(accounts)).toHaveLength(1);
    const [accountId, account] = Object.entries(accounts)[0]!;
    expect(account.DeletionPolicy).toBe('Retain');
    const stage = Object.values(stateless.findResources('AWS::ApiGatewayV2::Stage', { Properties: { StageName: 'prod' } }))[0];
    expect(stage?.DependsOn).toContain(accountId);
    defaults.stateless.resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});

describe('bad configuration fails the synth', () => {
  const read = (context: Record<string, unknown>) => () => readDeployConfig(newApp(context).node);

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a JWKS URL without issuer and audience', { jwksUrl: 'https://id.example.com/jwks' }, /jwtIssuer and jwtAudience/],
    ['a JWKS URL over http', { jwksUrl: 'http://id/jwks', jwtIssuer: 'i', jwtAudience: 'a' }, /https/],
    ['both a JWKS URL and a secret', { jwksUrl: 'https://x/j', jwtIssuer: 'i', jwtAudience: 'a', jwtSecretArn: SECRET_ARN }, /not both/],
    ['a secret that is not a Secrets Manager ARN', { jwtSecretArn: 'my-secret' }, /Secrets Manager/],
    ['an idle timeout under the protocol minimum', { idleTimeoutSeconds: '30' }, /idleTimeoutSeconds/],
    ['a lease that is not a number', { leaseSeconds: 'soon' }, /leaseSeconds/],
    ['an invoker that is not a principal', { onlineAgentsInvokers: 'everyone' }, /everyone/],
    ['a retention CloudWatch does not offer', { logRetentionDays: 31 }, /logRetentionDays/],
    ['a stage name with a slash', { stage: 'a/b' }, /stage/],
    ['a flag that is not a boolean', { apiGatewayCloudWatchRole: 'yes' }, /apiGatewayCloudWatchRole/],
  ])('refuses %s', (_name, context, message) => {
    expect(read(context)).toThrow(message);
  });
});
