/** WebSocket `$connect` authorizer: verifies the token. Bundles jose, no AWS SDK client. */
import { measuredAuthorizer } from '#handlers/metrics.ts';
import { verifierFromEnv } from '#handlers/token-wiring.ts';
import { makeAuthorizerHandler } from '#handlers/websocket.ts';
import { lambda, logger, metrics } from './powertools.ts';

export const authorizer = lambda(() => measuredAuthorizer(makeAuthorizerHandler({ verifier: verifierFromEnv(process.env), logger }), metrics));
