/** The fan-out function: posts one chunk of a large fan-out for the delivery consumer. Bundles only the management API client. */
import { fanoutDepsFromEnv } from '#handlers/connections-wiring.ts';
import { makeFanoutHandler } from '#handlers/fanout.ts';
import { measuredGateway } from '#handlers/metrics.ts';
import { instrument, lambda, logger, metrics } from './powertools.ts';

export const fanout = lambda(() => makeFanoutHandler(fanoutDepsFromEnv(process.env, logger, (gateway) => measuredGateway(gateway, metrics), instrument)));
