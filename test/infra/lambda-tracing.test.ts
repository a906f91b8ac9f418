/**
 * Tracing as it runs in Lambda, without AWS: the environment Lambda gives a traced invocation
 * (LAMBDA_TASK_ROOT, AWS_EXECUTION_ENV, _X_AMZN_TRACE_ID) and a UDP socket standing in for the
 * X-Ray daemon. The fan-out entry's invocation and its `@connections` post arrive as segments of
 * the invocation's trace, and the delivery consumer's invocation of the fan-out function carries
 * that trace in its request, so the two functions' segments join in one trace.
 * It runs in the isolated project, in a process of its own: the X-Ray SDK reads LAMBDA_TASK_ROOT once, when it is first loaded.
 */
import { createSocket } from 'node:dgram';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lambdaContext } from '#test/support/lambda.ts';

const ROOT = '1-6745a0b1-0123456789abcdef01234567';
const segments: Array<Record<string, unknown>> = [];
const requests: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
const daemon = createSocket('udp4');
// Stands in for both @connections (POST /@connections/<id>) and Lambda's Invoke API.
const api = createServer((request, response) => {
  requests.push({ url: request.url ?? '', headers: request.headers });
  request.resume();
  request.on('end', () => {
    response.setHeader('content-type', 'application/json');
    response.end(request.url?.includes('/functions/') ? JSON.stringify({ posted: 1, failed: 0, opening: 0, gone: [] }) : '');
  });
});

beforeAll(async () => {
  daemon.on('message', (message) => {
    // Each datagram: a header line, then one segment or subsegment document.
    const [, body] = message.toString('utf8').split('\n');
    if (body) segments.push(JSON.parse(body) as Record<string, unknown>);
  });
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  Object.assign(process.env, {
    LAMBDA_TASK_ROOT: '/var/task',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
    _X_AMZN_TRACE_ID: `Root=${ROOT};Parent=53995c3f42cd8ad8;Sampled=1`,
    _HANDLER: 'index.fanout',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_LAMBDA: apiUrl,
    POWERTOOLS_SERVICE_NAME: 'presence-test',
    POWERTOOLS_METRICS_NAMESPACE: 'PresenceTest',
    POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
    PRESENCE_CALLBACK_URL: apiUrl,
    PRESENCE_FANOUT_FUNCTION_NAME: 'presence-fanout',
  });
});
afterAll(async () => {
  daemon.close();
  await new Promise((resolve) => api.close(resolve));
});

const context = lambdaContext('presence-fanout', 'req-1', 15_000);

const chunk = { messages: [{ type: 'presence', changes: [] }], connections: [{ connectionId: 'conn-1', userId: 'alice', connectedAt: 1 }], now: Date.now() };

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

it("traces an invocation and its @connections post in the invocation's trace", async () => {
  const { fanout } = await import('../../functions/handlers/lambda/fanout.ts');
  const report = await fanout(chunk, context);
  expect(report).toMatchObject({ posted: 1, failed: 0 });
  expect(requests.map((request) => request.url)).toContain('/@connections/conn-1');

  // The SDK call is a subsegment named for the service, with its operation, in the same trace.
  await until(() => segments.some((segment) => segment.name === 'ApiGatewayManagementApi'));
  const post = segments.find((segment) => segment.name === 'ApiGatewayManagementApi')!;
  expect(post).toMatchObject({ trace_id: ROOT, aws: expect.objectContaining({ operation: 'PostToConnection' }) });
  // The handler's own subsegment, annotated by the Powertools Tracer.
  await until(() => segments.some((segment) => segment.name === '## index.fanout'));
  const handler = segments.find((segment) => segment.name === '## index.fanout')!;
  expect(handler).toMatchObject({ trace_id: ROOT, annotations: expect.objectContaining({ ColdStart: expect.any(Boolean), Service: 'presence-test' }) });
});

it("carries the consumer's trace into its invocation of the fan-out function", async () => {
  const { instrument } = await import('../../functions/handlers/lambda/powertools.ts');
  const { fanoutFromEnv } = await import('../../functions/handlers/delivery-wiring.ts');
  const dispatcher = fanoutFromEnv(process.env, instrument)!;
  expect(await dispatcher.post(chunk)).toMatchObject({ posted: 1 });

  const invoke = requests.find((request) => request.url.includes('/functions/presence-fanout/invocations'));
  expect(String(invoke?.headers['x-amzn-trace-id'])).toContain(`Root=${ROOT}`);
  await until(() => segments.some((segment) => segment.name === 'Lambda'));
  expect(segments.find((segment) => segment.name === 'Lambda')).toMatchObject({ trace_id: ROOT, aws: expect.objectContaining({ operation: 'Invoke' }) });
});
