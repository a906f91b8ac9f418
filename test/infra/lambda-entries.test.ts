/**
 * The Lambda entries (functions/handlers/lambda/) as Lambda calls them: each log line carries the
 * Lambda context (request id, cold start, function name), metrics are flushed by Powertools after
 * every invocation with the cold-start metric on the first, and the handler is built on first use.
 * Output is read from stdout, where Powertools writes its JSON log lines and EMF documents.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '#test/support/lambda.ts';

let lines: Record<string, unknown>[];

beforeEach(() => {
  lines = [];
  vi.resetModules();
  vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'presence-test');
  vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'PresenceTest');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
  // Lambda sets it; Powertools reports a cold start only for on-demand environments.
  vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
  vi.stubEnv('PRESENCE_JWT_SECRET', 'lambda-entries-test-secret-0123456789abcdef');
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    });
  }
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const context = (requestId: string) => lambdaContext('presence-authorizer', requestId);

const refusedToken = {
  type: 'REQUEST',
  methodArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc/prod/$connect',
  queryStringParameters: { token: 'not-a-jwt' },
  requestContext: { connectionId: 'c1', routeKey: '$connect' },
};

const emf = () => lines.filter((line) => '_aws' in line);
const logs = () => lines.filter((line) => !('_aws' in line));

describe('Lambda entries', () => {
  it('log with the Lambda context and flush metrics through Powertools, with the cold-start metric once', async () => {
    const { authorizer } = await import('../../functions/handlers/lambda/authorizer.ts');

    await expect(authorizer(refusedToken as never, context('req-1'))).rejects.toThrow('Unauthorized');
    const first = logs().find((line) => line.message === 'token refused');
    expect(first).toMatchObject({
      level: 'INFO',
      service: 'presence-test',
      function_request_id: 'req-1',
      function_name: 'presence-authorizer',
      cold_start: true,
    });
    const coldStart = emf().filter((doc) => 'ColdStart' in doc);
    expect(coldStart).toEqual([expect.objectContaining({ ColdStart: 1, function_name: 'presence-authorizer', service: 'presence-test' })]);
    expect(emf().some((doc) => doc.TokensRefused === 1)).toBe(true);

    lines.length = 0;
    await expect(authorizer(refusedToken as never, context('req-2'))).rejects.toThrow('Unauthorized');
    expect(logs().find((line) => line.message === 'token refused')).toMatchObject({ function_request_id: 'req-2', cold_start: false });
    expect(emf().filter((doc) => 'ColdStart' in doc)).toEqual([]);
    expect(emf().some((doc) => doc.TokensRefused === 1)).toBe(true);
  });

  it('fail the invocation with the configuration error when a function lacks its configuration', async () => {
    vi.stubEnv('PRESENCE_JWT_SECRET', '');
    const { authorizer } = await import('../../functions/handlers/lambda/authorizer.ts');
    await expect(authorizer(refusedToken as never, context('req-3'))).rejects.toThrow(/PRESENCE_JWT_SECRET|PRESENCE_JWKS_URL/);
  });
});
