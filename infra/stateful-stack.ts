/**
 * The stateful part of this repository's app: the presence table and its stream, the event bus
 * and, when asked, the HS256 signing secret. Everything here outlives redeploys of the stateless
 * stack, which holds the PresenceService construct on this table and bus.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { newJwtSecret, newPresenceTable } from './presence-table.ts';

export interface PresenceStatefulStackProps extends StackProps {
  /** Create the HS256 token-signing secret here (when no existing secret or JWKS URL is configured). */
  createJwtSecret?: boolean;
}

export class PresenceStatefulStack extends Stack {
  readonly table: TableV2;
  readonly bus: EventBus;
  readonly jwtSecret?: Secret;

  constructor(scope: Construct, id: string, props?: PresenceStatefulStackProps) {
    super(scope, id, props);
    this.table = newPresenceTable(this, 'PresenceTable');
    this.bus = new EventBus(this, 'PresenceBus', { description: 'PresenceChanged events of the presence service' });
    if (props?.createJwtSecret) this.jwtSecret = newJwtSecret(this, 'JwtSecret');
  }
}
