/**
 * The HTTP API of PROTOCOL.md: every route of HTTP_ROUTES on the http function, which verifies
 * the token itself, on the $default stage with access logs.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, type ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { HTTP_ROUTES } from '../functions/app/routes.ts';
import type { PresenceFunction } from './presence-function.ts';

export interface PresenceHttpApiProps {
  httpFunction: PresenceFunction;
  stage: string;
  logRetention: RetentionDays;
  throttle: ThrottleSettings;
}

export function newHttpApi(scope: Construct, props: PresenceHttpApiProps): { api: HttpApi; stage: HttpStage } {
  const api = new HttpApi(scope, 'HttpApi', {
    description: `presence (${props.stage}) HTTP API`,
    createDefaultStage: false,
  });
  const httpAccessLogs = new LogGroup(scope, 'HttpAccessLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
  // The $default stage: the handler routes on rawPath, which a named stage would prefix.
  const stage = new HttpStage(scope, 'HttpStage', {
    httpApi: api,
    autoDeploy: true,
    throttle: props.throttle,
    accessLogSettings: { destination: new LogGroupLogDestination(httpAccessLogs) },
  });
  const httpIntegration = new HttpLambdaIntegration('HttpIntegration', props.httpFunction.function);
  for (const { method, path } of Object.values(HTTP_ROUTES)) {
    for (const route of api.addRoutes({ path, methods: [HttpMethod[method]], integration: httpIntegration })) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Authorization is in the http function: it verifies the Bearer token (HS256 or JWKS, the same verifier as the WebSocket authorizer) before anything else and answers 401/403 in the PROTOCOL.md error format. A JWT authorizer cannot check HS256 tokens, and /healthz must stay anonymous.',
      });
    }
  }
  return { api, stage };
}
