/**
 * cdk-nag AwsSolutions on the whole app: synth fails on any unacknowledged finding, and the app
 * synthesizes in every JWT mode. The first test shows such a finding does fail the synth.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Stack, Validations } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildPresenceApp } from '../../infra/presence-app.ts';
import { newApp, removeOutdirs } from './cdk-app.ts';

afterAll(removeOutdirs);

describe('cdk-nag AwsSolutions', () => {
  it('fails the synth on an unacknowledged finding', () => {
    const app = newApp();
    new Topic(new Stack(app, 'Offender'), 'PlainTopic');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-SNS[23]/);
  });

  it.each<[string, Record<string, unknown>]>([
    ['a created HS256 secret', {}],
    [
      'a JWKS URL, invokers, an alarm topic and the API Gateway logging role',
      {
        apiGatewayCloudWatchRole: true,
        jwksUrl: 'https://id.example.com/.well-known/jwks.json',
        jwtIssuer: 'https://id.example.com/',
        jwtAudience: 'presence',
        onlineAgentsInvokers: '210987654321',
        alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall',
      },
    ],
  ])('finds nothing unacknowledged in the app with %s', (_name, context) => {
    const app = newApp(context);
    buildPresenceApp(app);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
