/**
 * The WebSocket API: its routes (the $connect authorizer, $disconnect, $default and one route per
 * message action, each on its function), its stage with access logs, and, when asked, API
 * Gateway's account-wide CloudWatch Logs role that WebSocket access logs need.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, type ThrottleSettings, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { MESSAGE_ACTIONS } from '../functions/app/routes.ts';
import type { PresenceFunction, PresenceHandler } from './presence-function.ts';

export interface PresenceWebSocketApiProps {
  functions: Record<PresenceHandler, PresenceFunction>;
  stage: string;
  logRetention: RetentionDays;
  throttle: ThrottleSettings;
  /** Sets API Gateway's account-wide CloudWatch Logs role before the stage (PresenceServiceProps.apiGatewayCloudWatchRole). */
  accountLogging: boolean;
}

export function newWebSocketApi(scope: Construct, props: PresenceWebSocketApiProps): { api: WebSocketApi; stage: WebSocketStage } {
  const { functions, logRetention } = props;
  const integration = (handler: PresenceHandler) =>
    new WebSocketLambdaIntegration(`${handler}Integration`, functions[handler].function);
  const authorizer = new WebSocketLambdaAuthorizer('TokenAuthorizer', functions.authorizer.function, {
    identitySource: ['route.request.querystring.token'],
  });
  const api = new WebSocketApi(scope, 'WebSocketApi', {
    description: `presence (${props.stage}) WebSocket API`,
    routeSelectionExpression: '$request.body.action',
    connectRouteOptions: { integration: integration('connect'), authorizer },
    disconnectRouteOptions: { integration: integration('disconnect') },
    defaultRouteOptions: { integration: integration('defaultRoute') },
  });
  for (const action of MESSAGE_ACTIONS) {
    api.addRoute(action, { integration: integration(action) });
  }
  const webSocketAccessLogs = new LogGroup(scope, 'WebSocketAccessLogs', {
    retention: logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const accountLogging = props.accountLogging ? apiGatewayAccountLogging(scope) : undefined;
  const stage = new WebSocketStage(scope, 'WebSocketStage', {
    webSocketApi: api,
    stageName: props.stage,
    autoDeploy: true,
    throttle: props.throttle,
    accessLogSettings: { destination: new LogGroupLogDestination(webSocketAccessLogs) },
  });
  if (accountLogging) stage.node.addDependency(accountLogging);
  for (const route of api.node.children) {
    if (!route.node.id.endsWith('-Route') || route.node.id.startsWith('$connect')) continue;
    Validations.of(route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'API Gateway runs WebSocket authorizers on $connect only; every later message of the connection carries the identity the $connect authorizer verified.',
    });
  }
  return { api, stage };
}

/** API Gateway's account setting: the role it writes WebSocket (and REST) logs with. */
function apiGatewayAccountLogging(scope: Construct): CfnAccount {
  const role = new Role(scope, 'ApiGatewayCloudWatchRole', {
    assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
    description: 'API Gateway writes API logs to CloudWatch Logs (account-wide setting)',
    managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
  });
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    reason:
      'The documented AWS managed policy for the API Gateway account logging role; API Gateway creates log groups per API and stage, so the role cannot be scoped to ours.',
  });
  const account = new CfnAccount(scope, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
  // The setting is account-wide: leave it in place for other APIs when this stack goes.
  account.applyRemovalPolicy(RemovalPolicy.RETAIN);
  return account;
}
