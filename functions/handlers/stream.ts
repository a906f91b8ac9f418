/**
 * The delivery consumer: a Lambda on the presence table's DynamoDB stream (an event source
 * mapping with ReportBatchItemFailures). It reads the changes each agent write committed and
 * hands them to app/fanout.ts; the local stack drives the same handler from DynamoDB Local's
 * stream (local/dynamodb-stream.ts).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { Transition } from '#domain/presence.ts';
import { AGENT_PREFIX } from '#adapters/keys.ts';
import type { StoredChange } from '#adapters/dynamodb-store.ts';
import { deliverChanges } from '#app/fanout.ts';
import { recordHistory } from '#app/history.ts';
import type { Ports } from '#app/ports.ts';

/** The changes a stream record carries: those its agent write committed; none for any other item or a delete. */
export function changesOf(record: DynamoDBRecord): Transition[] {
  const image = record.dynamodb?.NewImage;
  if (record.eventName === 'REMOVE' || !image) return [];
  const item = unmarshall(image as Record<string, AttributeValue>);
  if (typeof item.sk !== 'string' || !item.sk.startsWith(AGENT_PREFIX) || !Array.isArray(item.changes)) return [];
  return (item.changes as StoredChange[]).map((change) => ({
    workspaceId: item.workspaceId as string,
    userId: item.userId as string,
    name: item.name as string,
    teams: (item.teams as string[] | undefined) ?? [],
    status: change.status,
    previous: change.previous,
    reason: change.reason,
    at: change.at,
    version: change.version,
  }));
}

export function makeStreamHandler(deps: { ports: Ports }) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const records = event.Records.map((record) => ({ record, changes: changesOf(record) }));
    const changes = records.flatMap((entry) => entry.changes);
    // History is written while the changes are delivered. If it fails, the whole batch comes
    // again: its entries are rewritten under the same keys, its posts carry the same versions.
    const [recorded, { retry }] = await Promise.all([
      recordHistory(deps.ports, changes).then(
        () => true,
        (error: unknown) => {
          deps.ports.logger.error('recording the history of a batch failed; the batch will be retried', { error });
          return false;
        },
      ),
      deliverChanges(deps.ports, changes),
    ]);
    if (retry.length === 0 && recorded) return { batchItemFailures: [] };
    // The stream resumes from the earliest failed record; the records after it come again, and
    // their changes carry the same versions, which clients drop.
    const failed = new Set(retry);
    const first = recorded
      ? (records.find((entry) => entry.changes.some((change) => failed.has(change))) ?? records[0])
      : (records.find((entry) => entry.changes.length > 0) ?? records[0]);
    // No sequence number to name: fail the whole batch rather than drop its changes.
    const sequence = first?.record.dynamodb?.SequenceNumber ?? '';
    return { batchItemFailures: [{ itemIdentifier: sequence }] };
  };
}
