/**
 * The one definition of the presence table: key names, indexes, the TTL attribute and the stream.
 * The store, the tests, the local stack and the CDK stack all build from these constants.
 */
export const TABLE = {
  defaultName: 'presence',
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds. Garbage collection only: nothing correct waits for DynamoDB to delete. */
  ttlAttribute: 'ttl',
  indexes: {
    /** Sparse: only agents whose published status is online or away; partition per workspace and status. */
    byStatus: { name: 'byStatus', partitionKey: 'statusPk', sortKey: 'statusSk' },
    /** Sparse and sharded: only agents with a pending deadline, sorted by it, so a sweep reads what is due. */
    byDeadline: { name: 'byDeadline', partitionKey: 'duePk', sortKey: 'dueAt' },
  },
  /** Deadline shards: spread sweeper writes over partitions. Fixed for the life of a table. */
  deadlineShards: 16,
  /** Every write is an event: the stream consumer needs both images to tell what changed. */
  streamViewType: 'NEW_AND_OLD_IMAGES',
} as const;

export type AttributeType = 'S' | 'N';

/** Every key attribute and its DynamoDB type. */
export const KEY_ATTRIBUTE_TYPES: Record<string, AttributeType> = {
  [TABLE.partitionKey]: 'S',
  [TABLE.sortKey]: 'S',
  [TABLE.indexes.byStatus.partitionKey]: 'S',
  [TABLE.indexes.byStatus.sortKey]: 'S',
  [TABLE.indexes.byDeadline.partitionKey]: 'S',
  [TABLE.indexes.byDeadline.sortKey]: 'N',
};

/** CreateTable input for DynamoDB Local and tests (CDK builds the same shape from TABLE). */
export function createTableInput(tableName: string) {
  const indexes = Object.values(TABLE.indexes);
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: Object.entries(KEY_ATTRIBUTE_TYPES).map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType,
    })),
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
      ],
      // Both readers need whole agents: the sweeper to decide and write, the query to answer.
      Projection: { ProjectionType: 'ALL' as const },
    })),
    StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE.streamViewType },
  };
}
