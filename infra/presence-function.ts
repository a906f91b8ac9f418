/**
 * One construct for every presence function, holding the project's defaults (after Powertools'
 * example app): NodejsFunction bundled by the local esbuild, Node 22 on arm64, source maps, the
 * Powertools environment, its own log group with retention and its own role. The `bind*` methods set
 * an environment variable and grant exactly what goes with it, so a function gets nothing unasked.
 */
import { fileURLToPath } from 'node:url';
import { type CfnElement, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type IFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { TABLE } from '../functions/adapters/table.ts';
import { BUNDLING, entryOf } from './bundles.ts';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const SERVICE_NAME = 'presence';
export const METRICS_NAMESPACE = 'Presence';

/** The functions, each an entry module of functions/handlers/lambda/. */
export const PRESENCE_HANDLERS = [
  'authorizer',
  'connect',
  'disconnect',
  'heartbeat',
  'setStatus',
  'subscribe',
  'getPresence',
  'logout',
  'defaultRoute',
  'onlineAgents',
  'http',
  'sweeper',
  'stream',
  'fanout',
] as const;
export type PresenceHandler = (typeof PRESENCE_HANDLERS)[number];

export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:Query'
  | 'dynamodb:BatchWriteItem'
  | 'dynamodb:DeleteItem';
type IndexName = (typeof TABLE.indexes)[keyof typeof TABLE.indexes]['name'];

export interface TableAccess {
  /** Actions on the table itself. Empty: the function only needs the name (see bindTable). */
  actions: TableAction[];
  /** Indexes the function queries (dynamodb:Query on exactly these index ARNs). */
  indexes?: IndexName[];
}

export interface PresenceFunctionProps {
  handler: PresenceHandler;
  description: string;
  /** The deployment stage; part of the Powertools service name so two stages never share metrics. */
  stage: string;
  logRetention: RetentionDays;
  logLevel: string;
  timeout?: Duration;
  memorySize?: number;
  reservedConcurrentExecutions?: number;
  environment?: Record<string, string>;
}

export class PresenceFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PresenceFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      // Logs are diagnostics of this deployment, not business data: they go with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Our own role instead of the AWS managed basic-execution policy: logs go to this log group only.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `presence ${props.handler} function`,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, 'Function', {
      // One entry per function: a bundle holds only the SDK clients its function calls.
      entry: entryOf(props.handler),
      handler: props.handler,
      // X-Ray: the Powertools Tracer records the invocation, each SDK call, and the stream
      // consumer's invocations of the fan-out function, joined in one trace.
      tracing: Tracing.ACTIVE,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      environment: {
        POWERTOOLS_SERVICE_NAME: `${SERVICE_NAME}-${props.stage}`,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        // Responses can be large (snapshots) and hold user data: traces keep timings, not payloads.
        POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
        // Stack traces point into functions/*.ts through the bundled source maps.
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        // The local esbuild (a devDependency); a missing one must fail, never fall back to Docker.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: BUNDLING.target,
        mainFields: [...BUNDLING.mainFields],
        banner: BUNDLING.banner,
        minify: BUNDLING.minify,
        sourceMap: BUNDLING.sourceMap,
        // The pinned SDK versions of package-lock.json, not whatever the runtime ships.
        bundleAwsSDK: true,
      },
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing (Tracing.ACTIVE): xray:PutTraceSegments and xray:PutTelemetryRecords have no resource-level permissions, so the statement CDK adds names *.',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime the project builds, types and tests against (22 or 24 are supported); moving to 24 is its own tested change, not a side effect of a deploy.',
    });
  }

  /**
   * Sets PRESENCE_TABLE_NAME and grants exactly `access`: the listed actions on the table, and
   * dynamodb:Query on the listed indexes. With no actions the function gets the name and nothing else.
   */
  bindTable(table: ITableV2, access: TableAccess): this {
    this.function.addEnvironment('PRESENCE_TABLE_NAME', table.tableName);
    if (access.actions.length > 0) {
      this.role.addToPrincipalPolicy(new PolicyStatement({ actions: [...access.actions], resources: [table.tableArn] }));
    }
    if (access.indexes?.length) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: access.indexes.map((index) => `${table.tableArn}/index/${index}`),
        }),
      );
    }
    return this;
  }

  /** Sets PRESENCE_CALLBACK_URL from the stage (never from events) and grants @connections access. */
  bindConnections(api: WebSocketApi, stage: WebSocketStage): this {
    this.function.addEnvironment('PRESENCE_CALLBACK_URL', stage.callbackUrl);
    api.grantManageConnections(this.role);
    const stack = Stack.of(api);
    const apiLogicalId = stack.getLogicalId(api.node.defaultChild as CfnElement);
    // cdk-nag names the region and account as the stack has them: literal in an environment-bound stack.
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:${region}:${account}:<${apiLogicalId}>/*/*/@connections/*]`,
      reason:
        'execute-api:ManageConnections on this one WebSocket API; connection ids are created at runtime, so the @connections path cannot be narrower (grantManageConnections).',
    });
    return this;
  }

  /** Sets PRESENCE_EVENT_BUS_NAME and grants events:PutEvents on that bus only. */
  bindEventBus(bus: IEventBus): this {
    this.function.addEnvironment('PRESENCE_EVENT_BUS_NAME', bus.eventBusName);
    bus.grantPutEventsTo(this.role);
    return this;
  }

  /**
   * Sets PRESENCE_FANOUT_FUNCTION_NAME and grants lambda:InvokeFunction on that function alone
   * (unqualified: no versions or aliases), for the chunks of large fan-outs.
   */
  bindFanout(fanout: IFunction): this {
    this.function.addEnvironment('PRESENCE_FANOUT_FUNCTION_NAME', fanout.functionName);
    this.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fanout.functionArn] }));
    return this;
  }

  /** Environment the function reads with no grant attached (timing, JWT settings). */
  addEnvironment(values: Record<string, string>): this {
    for (const [key, value] of Object.entries(values)) this.function.addEnvironment(key, value);
    return this;
  }
}
