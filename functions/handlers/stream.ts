/**
 * The delivery consumer: a Lambda on the presence table's DynamoDB stream (an event source
 * mapping with ReportBatchItemFailures). It reads the changes each agent write committed and
 * hands them to app/fanout.ts; the local stack drives the same handler from DynamoDB Local's
 * stream (local/stream/reader.ts).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { Transition } from '#domain/agent.ts';
import { AGENT_PREFIX } from '#adapters/keys.ts';
import type { StoredChange, StoredNotice } from '#adapters/dynamodb/agent-item.ts';
import { deliverChanges, publishUnavailable } from '#app/fanout.ts';
import { recordHistory } from '#app/history.ts';
import type { AgentUnavailable, Ports } from '#app/ports.ts';

/** The agent item a stream record's write left, or undefined for any other item or a delete. */
function agentImage(record: DynamoDBRecord): Record<string, unknown> | undefined {
  const image = record.dynamodb?.NewImage;
  if (record.eventName === 'REMOVE' || !image) return undefined;
  const item = unmarshall(image as Record<string, AttributeValue>);
  return typeof item.sk === 'string' && item.sk.startsWith(AGENT_PREFIX) ? item : undefined;
}

/** The changes a stream record carries: those its agent write committed; none for any other item or a delete. */
export function changesOf(record: DynamoDBRecord): Transition[] {
  const item = agentImage(record);
  if (!item || !Array.isArray(item.changes)) return [];
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
    ...(change.awayReason !== undefined ? { awayReason: change.awayReason } : {}),
    ...(change.previousAwayReason !== undefined ? { previousAwayReason: change.previousAwayReason } : {}),
    ...(change.by !== undefined ? { by: change.by } : {}),
  }));
}

/** The AgentUnavailable notices a stream record's agent write committed. */
export function noticesOf(record: DynamoDBRecord): AgentUnavailable[] {
  const item = agentImage(record);
  if (!item || !Array.isArray(item.notices)) return [];
  return (item.notices as StoredNotice[]).map((notice) => ({
    workspaceId: item.workspaceId as string,
    userId: item.userId as string,
    status: notice.status,
    since: notice.since,
    at: notice.at,
  }));
}

export function makeStreamHandler(deps: { ports: Ports }) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const records = event.Records.map((record) => ({ record, changes: changesOf(record), notices: noticesOf(record) }));
    const changes = records.flatMap((entry) => entry.changes);
    const notices = records.flatMap((entry) => entry.notices);
    // History is written while the changes are delivered. If it fails, the whole batch comes
    // again: its entries are rewritten under the same keys, its posts carry the same versions.
    const [recorded, { retry }, announced] = await Promise.all([
      recordHistory(deps.ports, changes).then(
        () => true,
        (error: unknown) => {
          deps.ports.logger.error('recording the history of a batch failed; the batch will be retried', { error });
          return false;
        },
      ),
      deliverChanges(deps.ports, changes),
      publishUnavailable(deps.ports, notices),
    ]);
    if (retry.length === 0 && recorded && announced) return { batchItemFailures: [] };
    // The stream resumes from the earliest failed record; the records after it come again, and
    // their changes carry the same versions, which clients drop.
    const failed = new Set(retry);
    const first = records.find(
      (entry) =>
        entry.changes.some((change) => failed.has(change)) ||
        (!recorded && entry.changes.length > 0) ||
        (!announced && entry.notices.length > 0),
    ) ?? records[0];
    // No sequence number to name: fail the whole batch rather than drop its changes.
    const sequence = first?.record.dynamodb?.SequenceNumber ?? '';
    return { batchItemFailures: [{ itemIdentifier: sequence }] };
  };
}
