/**
 * The stateful part: the presence table (from the one table definition) and its stream, the event
 * bus and, when asked, the HS256 signing secret. Everything here outlives redeploys of the
 * stateless stack.
 */
import { RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, StreamViewType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { KEY_ATTRIBUTE_TYPES, TABLE } from '../functions/adapters/table.ts';

function attribute(name: string) {
  return { name, type: KEY_ATTRIBUTE_TYPES[name] === 'N' ? AttributeType.NUMBER : AttributeType.STRING };
}

export interface PresenceStatefulStackProps extends StackProps {
  /** Create the HS256 token-signing secret here (when no existing secret or JWKS URL is configured). */
  createJwtSecret?: boolean;
}

export class PresenceStatefulStack extends Stack {
  readonly table: TableV2;
  /** The table's stream: always on, so the stream consumer's event source needs no check. */
  readonly tableStreamArn: string;
  readonly bus: EventBus;
  readonly jwtSecret?: Secret;

  constructor(scope: Construct, id: string, props?: PresenceStatefulStackProps) {
    super(scope, id, props);
    // No physical names: two stages can live in one account.
    this.table = new TableV2(this, 'PresenceTable', {
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
    if (!this.table.tableStreamArn) throw new Error('the presence table has no stream');
    this.tableStreamArn = this.table.tableStreamArn;
    this.bus = new EventBus(this, 'PresenceBus', { description: 'PresenceChanged events of the presence service' });
    if (props?.createJwtSecret) {
      this.jwtSecret = new Secret(this, 'JwtSecret', {
        description: 'HS256 secret that signs presence tokens; your token issuer reads it',
        generateSecretString: { passwordLength: 64, excludePunctuation: true },
        // Every issued token depends on it; deleting the stack must not log everybody out.
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(this.jwtSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The secret signs tokens minted by the customer\'s issuer. Rotation must be coordinated with that issuer (new secret, redeploy, retire old tokens), so it is a documented manual step, not an automatic Lambda rotation.',
      });
    }
  }
}
