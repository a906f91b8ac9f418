/** The sweeper: commits lease, grace and idle deadlines inside its one-minute window; posts nothing. */
import { readNumber } from '#app/config.ts';
import { makeSweeperHandler } from '#handlers/sweeper.ts';
import { lambdaPorts } from './ports.ts';
import { lambda } from './powertools.ts';

const { ports } = lambdaPorts();
export const sweeper = lambda(() =>
  makeSweeperHandler({
    ports: ports(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    windowMs: readNumber(process.env, 'PRESENCE_SWEEP_WINDOW_SECONDS', 60, 1) * 1000,
    reserveMs: readNumber(process.env, 'PRESENCE_SWEEP_RESERVE_SECONDS', 10, 0) * 1000,
    lookAhead: true,
  }),
);
