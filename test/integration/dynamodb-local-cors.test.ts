/**
 * DynamoDB Local as the stack starts it has CORS closed to web pages: its allow-list holds only
 * a name that never resolves, so a page the developer visits cannot call it from the browser.
 */
import { describe, expect, inject, it } from 'vitest';
import { DYNAMODB_LOCAL_CORS_ALLOW_LIST } from '#local/dynamodb-local.ts';

/** The Access-Control-Allow-Origin a browser's preflight for a cross-origin call from `origin` gets. */
async function allowedOrigin(origin: string): Promise<string | null> {
  const response = await fetch(inject('dynamoEndpoint'), {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,x-amz-target,authorization',
    },
  });
  await response.arrayBuffer();
  return response.headers.get('access-control-allow-origin');
}

describe('DynamoDB Local CORS', () => {
  it('applies our allow-list: only the unresolvable origin is allowed, no page of another site', async () => {
    expect(await allowedOrigin(DYNAMODB_LOCAL_CORS_ALLOW_LIST)).toBe(DYNAMODB_LOCAL_CORS_ALLOW_LIST);
    expect(await allowedOrigin('http://attacker.example')).toBeNull();
    expect(await allowedOrigin('http://127.0.0.1:3000')).toBeNull();
  });
});
