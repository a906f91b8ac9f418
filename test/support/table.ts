import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTable } from '#local/table-setup.ts';

export async function createTable(endpoint: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    await ensureTable(client, tableName);
  } finally {
    client.destroy();
  }
}
