/**
 * Delivery: the stream function as the consumer of the table's stream, through a Lambda event
 * source mapping (batches, ReportBatchItemFailures, bisecting, bounded retries, event filters),
 * with the dead-letter queue that records the batches it could not deliver.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { PresenceFunction } from './presence-function.ts';

/** How long the dead-letter queue keeps the record of a dropped delivery: SQS's longest. */
const DELIVERY_DLQ_RETENTION = Duration.days(14);

/**
 * Lambda event filtering on the table's stream: only records whose new image has `changes`, the
 * list an agent write that committed status changes records (most writes are lease renewals
 * without any, and never invoke the function). `exists` matches leaf values only, and a DynamoDB
 * image nests every value under its type, so the pattern names a leaf inside the list:
 * changes → L (each element) → M → version → N; a list matches when any element does. Deletes
 * (no NewImage) and the settings item (whose `changes` carry no version) do not match.
 */
const CHANGES_FILTER = FilterCriteria.filter({
  dynamodb: { NewImage: { changes: { L: { M: { version: { N: FilterRule.exists() } } } } } },
});
/** The same for `notices`: a sweeper write that committed only an AgentUnavailable (the agent was already away or offline). */
const NOTICES_FILTER = FilterCriteria.filter({
  dynamodb: { NewImage: { notices: { L: { M: { since: { N: FilterRule.exists() } } } } } },
});

/** Makes the stream function the table stream's consumer; returns its dead-letter queue. */
export function addDeliveryConsumer(scope: Construct, streamFunction: PresenceFunction, table: ITableV2): Queue {
  // Read by operators, never consumed: for a stream, Lambda sends the failed batch's shard and
  // sequence-number range (not the records), to be read from the stream within its 24 hours.
  const deliveryDlq = new Queue(scope, 'DeliveryDlq', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: DELIVERY_DLQ_RETENTION,
  });
  Validations.of(deliveryDlq).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      'This queue is itself a dead-letter destination: the on-failure destination of the stream consumer\'s event source mapping. Operators read it; nothing consumes it that could fail, so a DLQ of its own would only hold the same records again.',
  });
  streamFunction.function.addEventSource(
    new DynamoEventSource(table, {
      // Changes committed from now on: a new consumer must not replay up to 24 hours of old changes.
      startingPosition: StartingPosition.LATEST,
      // Up to 100 records per invocation; a burst coalesces into one message per connection per batch.
      batchSize: 100,
      // Latency first: invoke as soon as records arrive; a busy stream batches by itself (each shard is polled about four times a second).
      maxBatchingWindow: Duration.seconds(0),
      // One batch per shard at a time, so a workspace's burst coalesces in one lane; raise it if IteratorAge grows while the function is healthy.
      parallelizationFactor: 1,
      // The handler names the first record it could not deliver; only it and the records after it come again.
      reportBatchItemFailures: true,
      // A batch that throws or times out is split in two, so one bad record cannot hold its shard's other changes.
      bisectBatchOnError: true,
      // Bounded retries, then the batch goes to the DLQ instead of blocking its shard until the records expire.
      retryAttempts: 10,
      // A presence change older than an hour is worthless: drop it (to the DLQ) rather than deliver it late.
      maxRecordAge: Duration.hours(1),
      // Batches that failed every retry, or aged out, are recorded in the DLQ (alarmed on).
      onFailure: new SqsDlq(deliveryDlq),
      // Only agent writes that committed changes or notices invoke the function (filters are ORed).
      filters: [CHANGES_FILTER, NOTICES_FILTER],
    }),
  );
  return deliveryDlq;
}
