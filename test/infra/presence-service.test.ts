/**
 * PresenceService as another CDK app embeds it: imported from infra/index.ts, put in the
 * adopter's own stack next to a resource of its own, its properties turned into the adopter's
 * outputs. cdk-nag finds nothing unacknowledged in that stack; a bad prop fails the synth with
 * a message naming it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { newPresenceTable, PresenceService, type PresenceServiceProps, PresenceServicePropsError } from '../../infra/index.ts';
import { functionsByHandler, newApp, removeOutdirs } from './cdk-app.ts';

afterAll(removeOutdirs);

const JWKS = { mode: 'jwks', jwksUrl: 'https://id.example.com/.well-known/jwks.json', issuer: 'https://id.example.com/', audience: 'presence' } as const;

/** The adopter's app: its own queue, the presence service beside it, and outputs from its properties. */
function adopterApp(props: PresenceServiceProps) {
  const app = newApp();
  const stack = new Stack(app, 'SupportDesk', { env: { account: '123456789012', region: 'eu-west-1' } });
  const tickets = new Queue(stack, 'Tickets', { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true });
  Validations.of(tickets).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'The adopter\'s own queue in this test; not under test.' });
  const presence = new PresenceService(stack, 'Presence', props);
  new CfnOutput(stack, 'PresenceWebSocketUrl', { value: presence.webSocketUrl });
  new CfnOutput(stack, 'PresenceHttpApiUrl', { value: presence.httpApiUrl });
  new CfnOutput(stack, 'PresenceEvents', { value: presence.eventBus.eventBusName });
  new CfnOutput(stack, 'OnlineAgents', { value: presence.onlineAgentsFunction.functionArn });
  return { app, stack, presence };
}

describe('PresenceService in another app', () => {
  it('puts the whole service in the adopter\'s stack, beside its own resources, with outputs from its properties', () => {
    const { app, stack, presence } = adopterApp({ auth: JWKS, stage: 'live', timings: { idleTimeoutSeconds: 300 } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    app.synth(); // cdk-nag: throws on any unacknowledged finding
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::SQS::Queue', 2); // the adopter's, and the delivery dead-letter queue
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 2);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'live' });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0); // JWKS: no secret
    const functions = functionsByHandler(template);
    expect([...functions.keys()].sort()).toEqual(
      ['authorizer', 'connect', 'defaultRoute', 'disconnect', 'fanout', 'getPresence', 'heartbeat', 'http', 'logout', 'onlineAgents', 'setStatus', 'stream', 'subscribe', 'sweeper'].sort(),
    );
    expect(functions.get('authorizer')!.properties).toMatchObject({
      Environment: { Variables: { PRESENCE_JWKS_URL: JWKS.jwksUrl, PRESENCE_JWT_ISSUER: JWKS.issuer, PRESENCE_JWT_AUDIENCE: 'presence' } },
    });
    expect(functions.get('heartbeat')!.properties).toMatchObject({
      Environment: { Variables: { PRESENCE_IDLE_TIMEOUT_SECONDS: '300', PRESENCE_CONNECTION_LEASE_SECONDS: '90', PRESENCE_RECONNECT_GRACE_SECONDS: '10' } },
    });

    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual(['OnlineAgents', 'PresenceEvents', 'PresenceHttpApiUrl', 'PresenceWebSocketUrl']);
    const webSocketApiId = stack.getLogicalId(presence.webSocketApi.node.defaultChild as never);
    expect(JSON.stringify(outputs.PresenceWebSocketUrl!.Value)).toContain(`"wss://",{"Ref":"${webSocketApiId}"}`);
    expect(JSON.stringify(outputs.PresenceWebSocketUrl!.Value)).toContain('/live');
    const httpApiId = stack.getLogicalId(presence.httpApi.node.defaultChild as never);
    expect(JSON.stringify(outputs.PresenceHttpApiUrl!.Value)).toContain(`{"Ref":"${httpApiId}"}`);
    expect(outputs.OnlineAgents!.Value).toEqual({ 'Fn::GetAtt': [functions.get('onlineAgents')!.id, 'Arn'] });
  });

  it('uses a table and bus it is given, and creates (and retains) the HS256 secret when auth has none', () => {
    const app = newApp();
    const shared = new Stack(app, 'Shared');
    const table = newPresenceTable(shared, 'PresenceTable');
    const stack = new Stack(app, 'Service');
    const presence = new PresenceService(stack, 'Presence', { auth: { mode: 'secret' }, table });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(presence.jwtSecret).toBeDefined();
    expect(presence.table).toBe(table);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: Match.anyValue() });
  });

  it.each<[string, Partial<PresenceServiceProps>, RegExp]>([
    ['a lease under 30 s', { timings: { leaseSeconds: 10 } }, /timings\.leaseSeconds must be a number from 30 to 3600, got 10/],
    ['a grace longer than the lease', { timings: { leaseSeconds: 60, graceSeconds: 61 } }, /timings\.graceSeconds must be a number from 0 to 60/],
    ['a JWKS URL over http', { auth: { ...JWKS, jwksUrl: 'http://id.example.com/jwks' } }, /auth\.jwksUrl must be an https:\/\/ URL/],
    ['a stage name with a space', { stage: 'my stage' }, /stage must be a letter/],
    ['an invoker that is no principal', { onlineAgentsInvokers: ['assignment'] }, /onlineAgentsInvokers: assignment is neither/],
  ])('refuses %s, naming the prop', (_name, props, message) => {
    const build = () => adopterApp({ auth: JWKS, ...props });
    expect(build).toThrow(PresenceServicePropsError);
    expect(build).toThrow(message);
  });
});
