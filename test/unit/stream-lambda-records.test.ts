/**
 * A Streams API record in Lambda's form (local/stream/lambda-records.ts): epoch seconds, base64
 * binaries at any depth, every attribute type, the source ARN, a TTL deletion's identity, and the
 * values the SDK cannot type.
 */
import { describe, expect, it } from 'vitest';
import type { _Record, AttributeValue as StreamAttributeValue } from '@aws-sdk/client-dynamodb-streams';
import { toLambdaRecord } from '#local/stream/lambda-records.ts';

const ARN = 'arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2026-01-01T00:00:00.000';
const bytes = (...values: number[]) => new Uint8Array(values);

describe('toLambdaRecord', () => {
  it('copies the event fields, names the source, and gives the creation time in epoch seconds', () => {
    const record: _Record = {
      eventID: 'e1',
      eventName: 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'ddblocal',
      dynamodb: {
        ApproximateCreationDateTime: new Date(1_700_000_000_500),
        Keys: { pk: { S: 'a' } },
        NewImage: { pk: { S: 'a' }, version: { N: '2' } },
        OldImage: { pk: { S: 'a' }, version: { N: '1' } },
        SequenceNumber: '100',
        SizeBytes: 42,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    };

    expect(toLambdaRecord(record, ARN)).toEqual({
      eventID: 'e1',
      eventName: 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'ddblocal',
      eventSourceARN: ARN,
      dynamodb: {
        ApproximateCreationDateTime: 1_700_000_000.5,
        Keys: { pk: { S: 'a' } },
        NewImage: { pk: { S: 'a' }, version: { N: '2' } },
        OldImage: { pk: { S: 'a' }, version: { N: '1' } },
        SequenceNumber: '100',
        SizeBytes: 42,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
  });

  it('leaves out what the stream record does not have, and has no userIdentity without one', () => {
    const lambda = toLambdaRecord({ eventName: 'REMOVE', dynamodb: { Keys: { pk: { S: 'a' } }, SizeBytes: 0 } }, ARN);

    expect(lambda.dynamodb).toEqual({ Keys: { pk: { S: 'a' } }, SizeBytes: 0 });
    expect(lambda).not.toHaveProperty('userIdentity');
    expect(toLambdaRecord({}, ARN).dynamodb).toEqual({});
  });

  it('spells a TTL deletion\'s identity in camel case, as Lambda does', () => {
    const lambda = toLambdaRecord(
      { eventName: 'REMOVE', userIdentity: { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' } },
      ARN,
    );

    expect(lambda.userIdentity).toEqual({ type: 'Service', principalId: 'dynamodb.amazonaws.com' });
  });

  it('converts every attribute type, binaries to base64 at any depth', () => {
    const image: Record<string, StreamAttributeValue> = {
      b: { B: bytes(1, 2, 3) },
      bs: { BS: [bytes(0), bytes(255)] },
      s: { S: 'text' },
      n: { N: '1.5' },
      ss: { SS: ['x', 'y'] },
      ns: { NS: ['1', '2'] },
      bool: { BOOL: false },
      nil: { NULL: true },
      list: { L: [{ B: bytes(1) }, { S: 'in a list' }] },
      map: { M: { inner: { M: { b: { B: bytes(2) } } } } },
    };

    expect(toLambdaRecord({ dynamodb: { NewImage: image } }, ARN).dynamodb?.NewImage).toEqual({
      b: { B: 'AQID' },
      bs: { BS: ['AA==', '/w=='] },
      s: { S: 'text' },
      n: { N: '1.5' },
      ss: { SS: ['x', 'y'] },
      ns: { NS: ['1', '2'] },
      bool: { BOOL: false },
      nil: { NULL: true },
      list: { L: [{ B: 'AQ==' }, { S: 'in a list' }] },
      map: { M: { inner: { M: { b: { B: 'Ag==' } } } } },
    });
  });

  it('passes a type newer than the SDK on as sent, and reads the SDK\'s {} as the empty map it was', () => {
    const image = {
      newer: { $unknown: ['X', { some: 'value' }] },
      emptyMap: {},
    } as unknown as Record<string, StreamAttributeValue>;

    expect(toLambdaRecord({ dynamodb: { NewImage: image } }, ARN).dynamodb?.NewImage).toEqual({
      newer: { X: { some: 'value' } },
      emptyMap: { M: {} },
    });
  });
});
