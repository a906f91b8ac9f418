/**
 * Every presence function and exactly what it needs, and the functions made from it: each gets its
 * table actions and indexes, the event bus, the timings, the token settings, the fan-out function
 * and the `@connections` endpoint only as its needs say. The tests check the synthesized policies
 * against this table.
 */
import { Duration } from 'aws-cdk-lib';
import type { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import {
  PresenceFunction,
  type PresenceFunctionProps,
  type PresenceHandler,
  type TableAccess,
  type TableAction,
} from './presence-function.ts';
import { SWEEPER_TIMEOUT } from './sweeper-schedule.ts';

/** One vCPU: Lambda allocates CPU in proportion to memory. */
const FANOUT_MEMORY_MB = 1769;
/** A chunk's posts time out after PRESENCE_POST_TIMEOUT_MS each; the sender waits a little longer. */
const FANOUT_TIMEOUT = Duration.seconds(15);
/**
 * The stream consumer's timeout. A batch holds up to 100 changes of several workspaces, delivered
 * four workspaces at a time, each of which may wait for fan-out chunks (up to FANOUT_TIMEOUT and a
 * second); a batch that times out is retried, so it is given room to finish instead.
 */
const STREAM_TIMEOUT = Duration.seconds(60);

/** What one function needs, beside the Powertools defaults. */
interface FunctionNeeds {
  description: string;
  /** Table actions and indexes; omitted: no table at all. */
  table?: TableAccess;
  /** Posts to connections (@connections) and so needs the callback URL. */
  posts?: boolean;
  /** Publishes PresenceChanged events. */
  publishes?: boolean;
  /** Delivers changes, so hands the chunks of large fan-outs to the fan-out function. */
  fansOut?: boolean;
  /** Verifies tokens itself. */
  verifiesTokens?: boolean;
  /** Derives presence, so it reads lease, grace and idle timeout. */
  timing?: boolean;
  overrides?: Partial<Pick<PresenceFunctionProps, 'timeout' | 'memorySize' | 'reservedConcurrentExecutions'>>;
}

/**
 * Read, decide and conditionally write one agent: the agent and its workspace's settings in one
 * consistent BatchGetItem (GetItem for keys it leaves unprocessed), then PutItem on its version.
 */
const DECIDES: TableAction[] = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'];

/**
 * Every function and exactly what it needs; the tests check the synthesized policies against this.
 * Only the stream consumer delivers (posts presence, publishes PresenceChanged, hands chunks to the
 * fan-out function); the handlers and the sweeper read, decide and write, and the message routes
 * post only their replies to the sender.
 */
const FUNCTION_NEEDS: Record<PresenceHandler, FunctionNeeds> = {
  authorizer: { description: 'WebSocket $connect REQUEST authorizer: verifies the token', verifiesTokens: true },
  // Its connection item, its index entries and the user's team membership items (BatchWriteItem) beside the agent.
  connect: { description: 'WebSocket $connect', table: { actions: [...DECIDES, 'dynamodb:BatchWriteItem'] }, timing: true },
  // Deletes its connection item and index entries (BatchGetItem, BatchWriteItem) beside the agent.
  disconnect: { description: 'WebSocket $disconnect', table: { actions: [...DECIDES, 'dynamodb:BatchWriteItem'] }, timing: true },
  // A connection given up on gets its item and index entries back (PutItem, in one transaction); errors are posted back to the sender.
  heartbeat: { description: 'WebSocket heartbeat', table: { actions: DECIDES }, posts: true, timing: true },
  setStatus: { description: 'WebSocket setStatus', table: { actions: DECIDES }, posts: true, timing: true },
  // A snapshot of the connection's scope: its item, then the workspace's agents, or a team's
  // membership items and those agents in batches.
  getPresence: {
    description: 'WebSocket getPresence: snapshot of what the connection subscribes to',
    table: { actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'] },
    posts: true,
    timing: true,
  },
  // The scope: its new index copies (BatchWriteItem), the item on the scope it read (PutItem),
  // the stale copies (DeleteItem); then the snapshot.
  subscribe: {
    description: 'WebSocket subscribe: sets the connection\'s scope and sends its snapshot',
    table: { actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'] },
    posts: true,
    timing: true,
  },
  // Lists the user's connections (Query), posts each `loggedOut`, closes it and deletes its item.
  logout: {
    description: 'WebSocket logout',
    table: { actions: [...DECIDES, 'dynamodb:Query', 'dynamodb:BatchWriteItem'] },
    posts: true,
    timing: true,
  },
  // The composition builds a store for every ports user, so $default needs the table name; it never reads it.
  defaultRoute: { description: 'WebSocket $default: unknown actions', table: { actions: [] }, posts: true },
  onlineAgents: {
    description: 'online-agents: the assignment query, invoked directly',
    table: { actions: ['dynamodb:GetItem', 'dynamodb:Query'], indexes: ['byStatus'] },
    timing: true,
  },
  // Agents by status (byStatus) or all of them (Query); settings; a new idle timeout rewrites the
  // present agents (their deadlines move); an admin's sign-out posts `loggedOut`, closes the connections and deletes their items.
  http: {
    description: 'HTTP API of PROTOCOL.md',
    table: { actions: [...DECIDES, 'dynamodb:Query', 'dynamodb:BatchWriteItem'], indexes: ['byStatus'] },
    posts: true,
    verifiesTokens: true,
    timing: true,
  },
  sweeper: {
    description: 'Sweeper: expires leases, grace periods and idle deadlines',
    table: { actions: DECIDES, indexes: ['byDeadline'] },
    timing: true,
    overrides: { timeout: SWEEPER_TIMEOUT, reservedConcurrentExecutions: 1 },
  },
  // Records each batch's history (BatchWriteItem). Reads each batch's audience from the subscriber index (Query), forgets gone connections (BatchGetItem, BatchWriteItem) and disconnects
  // their users (read, decide, write); posts, publishes and hands large fan-outs to the fan-out function.
  stream: {
    description: 'Stream: the delivery consumer on the table\'s stream; posts presence and publishes PresenceChanged',
    table: { actions: [...DECIDES, 'dynamodb:Query', 'dynamodb:BatchWriteItem'] },
    posts: true,
    publishes: true,
    fansOut: true,
    timing: true,
    overrides: { timeout: STREAM_TIMEOUT },
  },
  // A full vCPU (1,769 MB): signing and sending a post costs about half a millisecond of CPU, so
  // a chunk of 100 takes about 50 ms here instead of about 350 ms at 256 MB, for the same GB-seconds.
  fanout: {
    description: 'Fan-out: posts one chunk of a large fan-out, invoked by the stream consumer',
    posts: true,
    overrides: { memorySize: FANOUT_MEMORY_MB, timeout: FANOUT_TIMEOUT },
  },
};

const NEEDS = Object.entries(FUNCTION_NEEDS) as [PresenceHandler, FunctionNeeds][];

export interface PresenceFunctionsProps {
  stage: string;
  logRetention: RetentionDays;
  logLevel: PresenceFunctionProps['logLevel'];
  table: ITableV2;
  bus: IEventBus;
  /** Lease, grace and idle timeout, for the functions that derive presence. */
  timingEnvironment: Record<string, string>;
  /** How tokens are verified, for the functions that verify them. */
  jwtEnvironment: Record<string, string>;
}

/** Every function, with what it needs but the `@connections` endpoint (grantPosting, once the WebSocket stage exists). */
export function newPresenceFunctions(scope: Construct, props: PresenceFunctionsProps): Record<PresenceHandler, PresenceFunction> {
  const functions = {} as Record<PresenceHandler, PresenceFunction>;
  for (const [handler, needs] of NEEDS) {
    const fn = new PresenceFunction(scope, `${handler[0]!.toUpperCase()}${handler.slice(1)}`, {
      handler,
      description: `presence (${props.stage}) ${needs.description}`,
      stage: props.stage,
      logRetention: props.logRetention,
      logLevel: props.logLevel,
      timeout: Duration.seconds(20),
      ...needs.overrides,
    });
    if (needs.table) fn.bindTable(props.table, needs.table);
    if (needs.publishes) fn.bindEventBus(props.bus);
    if (needs.timing) fn.addEnvironment(props.timingEnvironment);
    if (needs.verifiesTokens) fn.addEnvironment(props.jwtEnvironment);
    functions[handler] = fn;
  }
  for (const [handler, needs] of NEEDS) {
    if (needs.fansOut) {
      functions[handler].bindFanout(functions.fanout.function).addEnvironment({
        PRESENCE_FANOUT_TIMEOUT_MS: String(FANOUT_TIMEOUT.toMilliseconds() + 1000),
      });
    }
  }
  return functions;
}

/** Lets the functions that post do so on the stage's `@connections` endpoint. */
export function grantPosting(functions: Record<PresenceHandler, PresenceFunction>, api: WebSocketApi, stage: WebSocketStage): void {
  for (const [handler, needs] of NEEDS) {
    if (needs.posts) functions[handler].bindConnections(api, stage);
  }
}
