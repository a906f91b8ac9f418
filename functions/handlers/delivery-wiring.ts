/**
 * What only the delivery consumer uses, from configuration: the EventBridge publisher and the
 * fan-out function's invoker. In a module of their own so no other function bundles either client.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { EventBridgePublisher } from '#adapters/eventbridge.ts';
import { LambdaFanoutDispatcher } from '#adapters/lambda-fanout.ts';
import { readNumber, requireEnv } from '#app/config.ts';
import type { EventPublisher, FanoutDispatcher } from '#app/ports.ts';
import type { Instrument } from '#handlers/connections-wiring.ts';

type Env = Record<string, string | undefined>;
const bare: Instrument = (client) => client;

/** PresenceChanged and AgentUnavailable events to the bus PRESENCE_EVENT_BUS_NAME names; built on first use. */
export function eventsFromEnv(env: Env, instrument: Instrument = bare): EventPublisher {
  let publisher: EventBridgePublisher | undefined;
  const bus = () => {
    publisher ??= new EventBridgePublisher(instrument(new EventBridgeClient({ region: env.AWS_REGION ?? 'us-east-1' })), requireEnv(env, 'PRESENCE_EVENT_BUS_NAME'));
    return publisher;
  };
  return {
    publish: (events) => bus().publish(events),
    publishUnavailable: (events) => bus().publishUnavailable(events),
  };
}

/** Chunks of a large fan-out go to the function PRESENCE_FANOUT_FUNCTION_NAME names, if set. */
export function fanoutFromEnv(env: Env, instrument: Instrument = bare): FanoutDispatcher | undefined {
  const functionName = env.PRESENCE_FANOUT_FUNCTION_NAME;
  if (!functionName) return undefined;
  let dispatcher: LambdaFanoutDispatcher | undefined;
  return {
    post: (chunk) => {
      dispatcher ??= new LambdaFanoutDispatcher(
        instrument(
          new LambdaClient({
            region: env.AWS_REGION ?? 'us-east-1',
            // No retries: a retried invocation that had run would post its chunk twice. A refused one
            // is posted by the consumer instead (fanout.ts).
            maxAttempts: 1,
            // Longer than the fan-out function's timeout, so an answer is never abandoned while it
            // runs; a connection that cannot be made fails fast, and the consumer posts the chunk.
            requestHandler: {
              connectionTimeout: 1_000,
              requestTimeout: readNumber(env, 'PRESENCE_FANOUT_TIMEOUT_MS', 16_000, 1),
              throwOnRequestTimeout: true,
            },
          }),
        ),
        functionName,
      );
      return dispatcher.post(chunk);
    },
  };
}
