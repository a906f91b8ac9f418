/** The table CDK deploys is the one table definition: keys, indexes, TTL, stream, PITR, retention. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { createTableInput, TABLE } from '#adapters/table.ts';
import { PresenceStatefulStack } from '../../infra/stateful-stack.ts';

const outdir = mkdtempSync(join(tmpdir(), 'cdk-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function synth() {
  const { context } = JSON.parse(readFileSync('cdk.json', 'utf8')) as { context: Record<string, unknown> };
  const app = new App({ outdir, context: { ...context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new PresenceStatefulStack(app, 'Stateful');
  return { stack, template: Template.fromStack(stack) };
}

describe('stateful stack', () => {
  const { stack, template } = synth();

  it('builds the table from the one table definition', () => {
    const local = createTableInput('x');
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: local.KeySchema,
      AttributeDefinitions: Match.arrayWith(local.AttributeDefinitions.map((definition) => Match.objectLike(definition))),
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      StreamSpecification: { StreamViewType: local.StreamSpecification.StreamViewType },
      GlobalSecondaryIndexes: local.GlobalSecondaryIndexes.map((index) =>
        Match.objectLike({ IndexName: index.IndexName, KeySchema: index.KeySchema, Projection: index.Projection }),
      ),
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
  });

  it('gives the table a stream of new and old images and exposes its ARN', () => {
    expect(TABLE.streamViewType).toBe('NEW_AND_OLD_IMAGES');
    const [tableId] = Object.keys(template.findResources('AWS::DynamoDB::GlobalTable'));
    expect(stack.resolve(stack.table.tableStreamArn)).toEqual({ 'Fn::GetAtt': [tableId, 'StreamArn'] });
  });

  it('keeps the table when the stack is deleted, and names nothing physically', () => {
    template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/"TableName"|"Name":\s*"presence/);
  });

  it('creates the PresenceChanged event bus', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
  });
});
