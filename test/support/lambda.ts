/** Lambda-shaped inputs for tests that drive handlers as Lambda does: a context, a stream event. */
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';

/** A Lambda context for `functionName` and one invocation's request id. */
export function lambdaContext(functionName: string, requestId: string, remainingMs = 10_000): Context {
  return {
    awsRequestId: requestId,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '256',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** One stream record of an agent write that committed `changes`, as the table's stream hands it over. */
export function agentWriteEvent(
  workspace: string,
  user: { userId: string; name: string },
  changes: Array<{ status: string; previous: string; reason: string; at: number; version: number }>,
  sequenceNumber = '1',
): DynamoDBStreamEvent {
  const image = { pk: `WS#${workspace}`, sk: `AGENT#${user.userId}`, workspaceId: workspace, userId: user.userId, name: user.name, teams: [], changes };
  return { Records: [{ eventName: 'MODIFY', dynamodb: { SequenceNumber: sequenceNumber, NewImage: marshall(image) } }] } as unknown as DynamoDBStreamEvent;
}
