/**
 * The ports of the functions that use the table, measured (Powertools metrics) and traced. Each
 * entry passes what it posts or publishes with, so a function bundles only the clients it uses.
 */
import type { Ports } from '#app/ports.ts';
import { type CompositionOverrides, compose } from '#handlers/composition.ts';
import { measuredPorts } from '#handlers/metrics.ts';
import { instrument, logger, metrics } from './powertools.ts';

export function lambdaPorts(overrides: Pick<CompositionOverrides, 'gateway' | 'events' | 'fanout'> = {}) {
  const composition = compose(process.env, { ...overrides, logger, instrument });
  let ports: Ports | undefined;
  return {
    ports: () => {
      ports ??= measuredPorts(composition.ports(), metrics);
      return ports;
    },
    limiter: composition.limiter,
  };
}
