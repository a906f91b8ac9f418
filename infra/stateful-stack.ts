/** The stateful part: the presence table (from the one table definition) and the event bus. */
import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { KEY_ATTRIBUTE_TYPES, TABLE } from '../functions/adapters/table.ts';

function attribute(name: string) {
  return { name, type: KEY_ATTRIBUTE_TYPES[name] === 'N' ? AttributeType.NUMBER : AttributeType.STRING };
}

export class PresenceStatefulStack extends Stack {
  readonly table: TableV2;
  readonly bus: EventBus;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    // No physical names: two stages can live in one account.
    this.table = new TableV2(this, 'PresenceTable', {
      partitionKey: attribute(TABLE.partitionKey),
      sortKey: attribute(TABLE.sortKey),
      billing: Billing.onDemand(),
      timeToLiveAttribute: TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Chosen statuses and settings outlive any deployment mistake.
      removalPolicy: RemovalPolicy.RETAIN,
      globalSecondaryIndexes: Object.values(TABLE.indexes).map((index) => ({
        indexName: index.name,
        partitionKey: attribute(index.partitionKey),
        sortKey: attribute(index.sortKey),
        projectionType: ProjectionType.ALL,
      })),
    });
    this.bus = new EventBus(this, 'PresenceBus');
  }
}
