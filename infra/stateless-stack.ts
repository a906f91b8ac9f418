/**
 * The stateless part of this repository's app: the PresenceService construct on the stateful
 * stack's table and bus, configured from CDK context (infra/config.ts), and the stack outputs.
 * Redeploy or replace it freely: all state lives in the stateful stack.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { PresenceDeployConfig } from './config.ts';
import { type PresenceAuth, PresenceService } from './presence-service.ts';

export interface PresenceStatelessStackProps extends StackProps {
  config: PresenceDeployConfig;
  table: TableV2;
  bus: IEventBus;
  /** The HS256 secret the stateful stack created, when the config names none and uses no JWKS. */
  jwtSecret?: ISecret;
}

export class PresenceStatelessStack extends Stack {
  readonly service: PresenceService;

  constructor(scope: Construct, id: string, props: PresenceStatelessStackProps) {
    super(scope, id, props);
    const { config } = props;
    const jwt = config.jwt;
    let auth: PresenceAuth;
    if (jwt.mode === 'jwks') {
      auth = jwt;
    } else {
      const secret = jwt.secretArn ? Secret.fromSecretCompleteArn(this, 'JwtSecret', jwt.secretArn) : props.jwtSecret;
      if (!secret) throw new Error('HS256 mode needs jwtSecretArn or the secret of the stateful stack');
      auth = { mode: 'secret', secret, ...(jwt.issuer ? { issuer: jwt.issuer } : {}), ...(jwt.audience ? { audience: jwt.audience } : {}) };
    }
    this.service = new PresenceService(this, 'Presence', {
      auth,
      stage: config.stage,
      timings: {
        idleTimeoutSeconds: config.idleTimeoutSeconds,
        leaseSeconds: config.leaseSeconds,
        graceSeconds: config.graceSeconds,
        sweepIntervalSeconds: config.sweepIntervalSeconds,
      },
      table: props.table,
      eventBus: props.bus,
      ...(config.alarmTopicArn ? { alarmTopic: Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn) } : {}),
      onlineAgentsInvokers: config.onlineAgentsInvokers,
      logRetention: config.logRetentionDays as RetentionDays,
      logLevel: config.logLevel,
      apiGatewayCloudWatchRole: config.apiGatewayCloudWatchRole,
    });

    new CfnOutput(this, 'WebSocketUrl', { value: this.service.webSocketUrl, description: 'wss:// URL; add ?token=<JWT>' });
    new CfnOutput(this, 'HttpApiUrl', { value: this.service.httpApiUrl, description: 'HTTP API base URL' });
    new CfnOutput(this, 'EventBusName', { value: props.bus.eventBusName, description: 'PresenceChanged events' });
    new CfnOutput(this, 'OnlineAgentsFunctionArn', {
      value: this.service.onlineAgentsFunction.functionArn,
      description: 'invoke with {"workspaceId","status","team"}',
    });
  }
}
