/** The delivery consumer on the table's stream: posts the changes, publishes the events, hands large fan-outs to the fan-out function. */
import { gatewayFromEnv } from '#handlers/connections-wiring.ts';
import { eventsFromEnv, fanoutFromEnv } from '#handlers/delivery-wiring.ts';
import { makeStreamHandler } from '#handlers/stream.ts';
import { lambdaPorts } from './ports.ts';
import { instrument, lambda } from './powertools.ts';

const fanout = fanoutFromEnv(process.env, instrument);
const { ports } = lambdaPorts({
  gateway: gatewayFromEnv(process.env, instrument),
  events: eventsFromEnv(process.env, instrument),
  ...(fanout ? { fanout } : {}),
});
export const stream = lambda(() => makeStreamHandler({ ports: ports() }));
