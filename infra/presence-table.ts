/**
 * The presence table (from the one table definition, functions/adapters/table.ts, that the local
 * stack and the tests use too) and the HS256 signing secret: the state of a presence service,
 * made here for the stateful stack and for PresenceService when it is given none.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, StreamViewType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { KEY_ATTRIBUTE_TYPES, TABLE } from '../functions/adapters/table.ts';

function attribute(name: string) {
  return { name, type: KEY_ATTRIBUTE_TYPES[name] === 'N' ? AttributeType.NUMBER : AttributeType.STRING };
}

/** The table with its keys, indexes, TTL and stream (always on: the delivery consumer reads it); retained on delete. */
export function newPresenceTable(scope: Construct, id: string): TableV2 {
  // No physical name: two stages (or two services) can live in one account.
  return new TableV2(scope, id, {
    partitionKey: attribute(TABLE.partitionKey),
    sortKey: attribute(TABLE.sortKey),
    billing: Billing.onDemand(),
    timeToLiveAttribute: TABLE.ttlAttribute,
    dynamoStream: StreamViewType[TABLE.streamViewType],
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
}

/** The HS256 secret that signs presence tokens (64 characters); retained on delete. */
export function newJwtSecret(scope: Construct, id: string): Secret {
  const secret = new Secret(scope, id, {
    description: 'HS256 secret that signs presence tokens; your token issuer reads it',
    generateSecretString: { passwordLength: 64, excludePunctuation: true },
    // Every issued token depends on it; deleting the stack must not log everybody out.
    removalPolicy: RemovalPolicy.RETAIN,
  });
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      "The secret signs tokens minted by the customer's issuer. Rotation must be coordinated with that issuer (new secret, redeploy, retire old tokens), so it is a documented manual step, not an automatic Lambda rotation.",
  });
  return secret;
}
