/**
 * LambdaFanoutDispatcher with the real SDK client against a local HTTP server that answers like
 * the Lambda Invoke API: what it sends, and how each kind of answer maps to a report or to
 * FanoutDispatchError's maybePosted.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { LambdaFanoutDispatcher } from '#adapters/lambda-fanout.ts';
import { FanoutDispatchError } from '#app/errors.ts';
import type { ChunkReport, FanoutChunk } from '#app/ports.ts';

const FUNCTION_NAME = 'presence-fanout';

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let endpoint: string;
let answer: Answer;
const received: Received[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => {
      received.push({ method: request.method, url: request.url, headers: request.headers, body: Buffer.concat(parts).toString('utf8') });
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      response.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
});

beforeEach(() => {
  received.length = 0;
});

function dispatcher(): LambdaFanoutDispatcher {
  const client = new LambdaClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  return new LambdaFanoutDispatcher(client, FUNCTION_NAME);
}

const chunk: FanoutChunk = {
  messages: [
    { type: 'presence', userId: 'u1', status: 'offline', previous: 'online', reason: 'idle', at: 1 },
    { type: 'presence', userId: 'u1', status: 'online', previous: 'offline', reason: 'active', at: 2 },
  ],
  connections: [
    { connectionId: 'c1', userId: 'u1', connectedAt: 100 },
    { connectionId: 'c2', userId: 'u2', connectedAt: 200 },
  ],
  now: 1_000_000,
};

async function dispatchError(): Promise<FanoutDispatchError> {
  const error = await dispatcher()
    .post(chunk)
    .then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
  expect(error).toBeInstanceOf(FanoutDispatchError);
  return error as FanoutDispatchError;
}

describe('LambdaFanoutDispatcher on the Invoke API', () => {
  it('invokes the function synchronously with the chunk and returns its parsed report', async () => {
    const report: ChunkReport = { posted: 3, failed: 0, opening: 1, gone: ['c2'] };
    answer = { status: 200, headers: { 'x-amz-executed-version': '$LATEST' }, body: JSON.stringify(report) };

    await expect(dispatcher().post(chunk)).resolves.toEqual(report);

    expect(received).toHaveLength(1);
    const request = received[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe(`/2015-03-31/functions/${FUNCTION_NAME}/invocations`);
    expect(JSON.parse(request.body)).toEqual(chunk);
    // Synchronous: an Event (async) invocation would be retried by Lambda and tell nothing back.
    expect([undefined, 'RequestResponse']).toContain(request.headers['x-amz-invocation-type']);
    expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=local\//);
  });

  it('a function error (200 with X-Amz-Function-Error) may have posted: maybePosted true', async () => {
    answer = {
      status: 200,
      headers: { 'X-Amz-Function-Error': 'Unhandled' },
      body: JSON.stringify({ errorType: 'InvalidChunkError', errorMessage: 'not a fan-out chunk' }),
    };

    const error = await dispatchError();

    expect(error.maybePosted).toBe(true);
    expect(error.message).toContain(FUNCTION_NAME);
    expect(received).toHaveLength(1);
  });

  it('an answer that is not a chunk report (a function of another version) may have posted: maybePosted true', async () => {
    for (const body of ['null', '{"posted":1}', '"done"']) {
      answer = { status: 200, headers: {}, body };
      const error = await dispatchError();
      expect(error.maybePosted, body).toBe(true);
    }
  });

  it('a throttle (429 TooManyRequestsException) was refused before running: maybePosted false', async () => {
    answer = {
      status: 429,
      headers: { 'x-amzn-errortype': 'TooManyRequestsException' },
      body: JSON.stringify({ __type: 'TooManyRequestsException', message: 'Rate exceeded' }),
    };

    const error = await dispatchError();

    expect(error.maybePosted).toBe(false);
    expect(error.cause).toMatchObject({ name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });
    expect(received).toHaveLength(1); // maxAttempts 1: the dispatcher adds no retry of its own
  });

  it('a 500 from the Lambda service may have run the chunk: maybePosted true', async () => {
    answer = {
      status: 500,
      headers: { 'x-amzn-errortype': 'ServiceException' },
      body: JSON.stringify({ __type: 'ServiceException', message: 'internal failure' }),
    };

    const error = await dispatchError();

    expect(error.maybePosted).toBe(true);
    expect(error.cause).toMatchObject({ $metadata: { httpStatusCode: 500 } });
    expect(received).toHaveLength(1);
  });

  it('an answer that never arrives (connection reset after the request was sent) may have run the chunk: maybePosted true', async () => {
    const failing = createServer((request) => {
      request.resume();
      request.on('end', () => request.socket.destroy());
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    try {
      const client = new LambdaClient({
        endpoint: `http://127.0.0.1:${(failing.address() as AddressInfo).port}`,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
      });
      const error = await new LambdaFanoutDispatcher(client, FUNCTION_NAME).post(chunk).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(FanoutDispatchError);
      expect((error as FanoutDispatchError).maybePosted).toBe(true);
    } finally {
      await new Promise<void>((resolve) => failing.close(() => resolve()));
    }
  });

  it('a function that cannot be reached (connection refused) did not run: maybePosted false', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new LambdaClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const error = await new LambdaFanoutDispatcher(client, FUNCTION_NAME).post(chunk).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(FanoutDispatchError);
    expect((error as FanoutDispatchError).maybePosted).toBe(false);
  });
});
