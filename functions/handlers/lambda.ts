/** Lambda entry points. Each is wired from the environment on its first invocation (cold start). */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Logger } from '@aws-lambda-powertools/logger';
import { compose, fanoutDepsFromEnv } from '#handlers/composition.ts';
import { makeFanoutHandler } from '#handlers/fanout.ts';
import { measuredAuthorizer, measuredGateway, measuredPorts, publishingMetrics } from '#handlers/metrics.ts';
import { makeHttpHandler } from '#handlers/http.ts';
import { makeOnlineAgentsHandler } from '#handlers/online-agents.ts';
import { makeStreamHandler } from '#handlers/stream.ts';
import { makeSweeperHandler } from '#handlers/sweeper.ts';
import {
  makeAuthorizerHandler,
  makeConnectHandler,
  makeDefaultHandler,
  makeDisconnectHandler,
  makeGetPresenceHandler,
  makeHeartbeatHandler,
  makeLogoutHandler,
  makeSetStatusHandler,
  makeSubscribeHandler,
} from '#handlers/websocket.ts';
import { readNumber } from '#app/config.ts';

const composition = compose(process.env);
// Namespace and service come from POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_SERVICE_NAME.
const metrics = new Metrics();

/**
 * Builds the handler on first call, so a function needs only the configuration it uses, and
 * publishes the metrics each invocation recorded.
 */
function lazy<A extends unknown[], R>(build: () => (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let handler: ((...args: A) => Promise<R>) | undefined;
  return publishingMetrics((...args: A) => {
    handler ??= build();
    return handler(...args);
  }, metrics);
}

let ports: ReturnType<typeof composition.ports> | undefined;
const measured = () => (ports ??= measuredPorts(composition.ports(), metrics));
const withPorts = () => ({ ports: measured(), limiter: composition.limiter() });

export const authorizer = lazy(() =>
  measuredAuthorizer(makeAuthorizerHandler({ verifier: composition.verifier(), logger: composition.logger }), metrics),
);
export const connect = lazy(() => makeConnectHandler(withPorts()));
export const disconnect = lazy(() => makeDisconnectHandler(withPorts()));
export const heartbeat = lazy(() => makeHeartbeatHandler(withPorts()));
export const setStatus = lazy(() => makeSetStatusHandler(withPorts()));
export const subscribe = lazy(() => makeSubscribeHandler(withPorts()));
export const getPresence = lazy(() => makeGetPresenceHandler(withPorts()));
export const logout = lazy(() => makeLogoutHandler(withPorts()));
export const defaultRoute = lazy(() => makeDefaultHandler(withPorts()));
export const onlineAgents = lazy(() => makeOnlineAgentsHandler(withPorts()));
export const http = lazy(() => makeHttpHandler({ ports: measured(), verifier: composition.verifier() }));
export const sweeper = lazy(() =>
  makeSweeperHandler({
    ports: measured(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    windowMs: readNumber(process.env, 'PRESENCE_SWEEP_WINDOW_SECONDS', 60, 1) * 1000,
    reserveMs: readNumber(process.env, 'PRESENCE_SWEEP_RESERVE_SECONDS', 10, 0) * 1000,
    lookAhead: true,
  }),
);
/** The delivery consumer on the table's stream: posts the changes and publishes the events. */
export const stream = lazy(() => makeStreamHandler({ ports: measured() }));
export const fanout = lazy(() =>
  makeFanoutHandler(
    fanoutDepsFromEnv(process.env, new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'presence' }), (gateway) =>
      measuredGateway(gateway, metrics),
    ),
  ),
);
