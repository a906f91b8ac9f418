/**
 * What every Lambda entry shares: Powertools' logger, metrics and tracer, and `lambda()`, which
 * wraps a handler the Powertools way (Middy): the Lambda context (request id, cold start, function
 * name) on every log line, metrics flushed after each invocation with the cold-start metric, and
 * the invocation traced in X-Ray. The handler itself is built on first use, from the environment.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import type { Instrument } from '#handlers/connections-wiring.ts';

// Service, level, namespace and tracing switches come from the POWERTOOLS_* environment (infra/presence-function.ts).
export const logger = new Logger();
export const metrics = new Metrics({ logger });
export const tracer = new Tracer();

/** SDK clients are traced: each DynamoDB, @connections, EventBridge and Lambda call is a subsegment. */
export const instrument: Instrument = (client) => tracer.captureAWSv3Client(client as never) as typeof client;

export function lambda<E, R>(build: () => (event: E, context: Context) => Promise<R>) {
  let handler: ((event: E, context: Context) => Promise<R>) | undefined;
  return middy(async (event: E, context: Context) => {
    handler ??= build();
    return handler(event, context);
  })
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}
