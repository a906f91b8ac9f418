/** The HTTP API of PROTOCOL.md: verifies the Bearer token itself, reads and writes the table; posts `loggedOut` when an admin signs an agent out. */
import { makeHttpHandler } from '#handlers/http.ts';
import { verifierFromEnv } from '#handlers/token-wiring.ts';
import { lambdaPorts } from './ports.ts';
import { lambda } from './powertools.ts';

const { ports } = lambdaPorts();
export const http = lambda(() => makeHttpHandler({ ports: ports(), verifier: verifierFromEnv(process.env) }));
