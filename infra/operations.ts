/**
 * Operations: CloudWatch alarms (optionally notifying an SNS topic) and one dashboard, over the
 * AWS metrics of the APIs, functions, table, stream consumer and its dead-letter queue, and the
 * custom metrics the functions emit (functions/handlers/metrics.ts, names in metric-names.ts).
 */
import { Duration } from 'aws-cdk-lib';
import type { HttpApi, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { type ITableV2, Operation } from 'aws-cdk-lib/aws-dynamodb';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Reason } from '../functions/domain/agent.ts';
import { METRICS, REASON_DIMENSION } from '../functions/handlers/metric-names.ts';
import { METRICS_NAMESPACE, type PresenceFunction, type PresenceHandler, SERVICE_NAME } from './presence-function.ts';

const REASONS = ['connect', 'active', 'manual', 'disconnect', 'timeout', 'idle', 'logout', 'admin'] as const satisfies readonly Reason[];
// Fails to compile when a reason is added to the domain and not here.
const everyReason: [Exclude<Reason, (typeof REASONS)[number]>] extends [never] ? true : false = true;
void everyReason;

const FIVE_MINUTES = Duration.minutes(5);
const ONE_MINUTE = Duration.minutes(1);

/** Alarm thresholds, per 5 minutes unless said otherwise. */
const THRESHOLDS = {
  sweeperErrors: 1,
  /** Share of the sweeper timeout its longest run may take. */
  sweeperDurationShare: 0.9,
  fanoutFailures: 10,
  tableThrottles: 1,
  authorizerErrors: 1,
  webSocketErrors: 5,
  http5xx: 5,
  /** Age of the oldest record the stream consumer was handed, in ms (maximum over 1 minute). */
  streamIteratorAgeMs: 30_000,
  /** Messages in the delivery dead-letter queue: any is a batch of changes dropped after every retry. */
  deliveryDlqMessages: 1,
} as const;

export interface PresenceOperationsProps {
  stage: string;
  functions: Record<PresenceHandler, PresenceFunction>;
  webSocketApi: WebSocketApi;
  webSocketStage: WebSocketStage;
  httpApi: HttpApi;
  table: ITableV2;
  /** The stream consumer's on-failure destination. */
  deliveryDlq: IQueue;
  sweeperTimeout: Duration;
  alarmTopic?: ITopic;
}

export class PresenceOperations extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: PresenceOperationsProps) {
    super(scope, id);
    const { functions, table } = props;
    const service = `${SERVICE_NAME}-${props.stage}`;
    const custom = (metricName: string, statistic: string, dimensions: Record<string, string> = {}) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        statistic,
        period: FIVE_MINUTES,
        dimensionsMap: { service, ...dimensions },
      });
    const sweeper = functions.sweeper.function;
    // How far the stream consumer is behind the newest change it was handed (AWS/Lambda, ms).
    const iteratorAge = functions.stream.function.metric('IteratorAge', { statistic: 'Maximum', period: ONE_MINUTE });
    const dlqMessages = props.deliveryDlq.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES });
    // The WebSocket API reports per API and stage.
    const webSocketMetric = (metricName: string, statistic = 'Sum') =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        statistic,
        period: FIVE_MINUTES,
        dimensionsMap: { ApiId: props.webSocketApi.apiId, Stage: props.webSocketStage.stageName },
      });

    const fanoutFailures = new MathExpression({
      label: 'fan-out failures',
      expression: 'FILL(posts, 0) + FILL(events, 0)',
      usingMetrics: { posts: custom(METRICS.fanoutFailures, 'Sum'), events: custom(METRICS.eventPublishFailures, 'Sum') },
      period: FIVE_MINUTES,
    });
    const tableThrottles = table.metricThrottledRequestsForOperations({
      operations: [Operation.GET_ITEM, Operation.PUT_ITEM, Operation.QUERY, Operation.BATCH_WRITE_ITEM],
      period: FIVE_MINUTES,
    });
    const webSocketErrors = new MathExpression({
      label: 'WebSocket integration and execution errors',
      expression: 'FILL(integration, 0) + FILL(execution, 0)',
      usingMetrics: { integration: webSocketMetric('IntegrationError'), execution: webSocketMetric('ExecutionError') },
      period: FIVE_MINUTES,
    });
    const timeoutMs = props.sweeperTimeout.toMilliseconds();

    const alarm = (id: string, description: string, metric: IMetric, threshold: number) => {
      const created = new Alarm(this, id, {
        metric,
        alarmDescription: `presence (${props.stage}): ${description}`,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (props.alarmTopic) {
        created.addAlarmAction(new SnsAction(props.alarmTopic));
        created.addOkAction(new SnsAction(props.alarmTopic));
      }
      this.alarms.push(created);
      return created;
    };
    alarm('SweeperErrors', 'the sweeper failed', sweeper.metricErrors({ period: FIVE_MINUTES }), THRESHOLDS.sweeperErrors);
    alarm(
      'SweeperDurationNearTimeout',
      `a sweeper run took over ${THRESHOLDS.sweeperDurationShare * 100}% of its timeout`,
      sweeper.metricDuration({ statistic: 'Maximum', period: ONE_MINUTE }),
      Math.round(timeoutMs * THRESHOLDS.sweeperDurationShare),
    );
    alarm(
      'StreamIteratorAge',
      `deliveries are falling behind: the stream consumer got a change over ${THRESHOLDS.streamIteratorAgeMs / 1000} s old (1-minute period)`,
      iteratorAge,
      THRESHOLDS.streamIteratorAgeMs,
    );
    alarm(
      'DeliveryDlqMessages',
      'presence changes were dropped after every retry: the delivery dead-letter queue has messages',
      dlqMessages,
      THRESHOLDS.deliveryDlqMessages,
    );
    alarm('FanoutFailures', 'posts to connections or PresenceChanged events failed', fanoutFailures, THRESHOLDS.fanoutFailures);
    alarm('TableThrottles', 'DynamoDB throttled presence requests', tableThrottles, THRESHOLDS.tableThrottles);
    alarm(
      'AuthorizerErrors',
      'the WebSocket authorizer failed (refused tokens do not count)',
      custom(METRICS.authorizerErrors, 'Sum'),
      THRESHOLDS.authorizerErrors,
    );
    alarm('WebSocketErrors', 'the WebSocket API answered with integration or execution errors', webSocketErrors, THRESHOLDS.webSocketErrors);
    alarm('Http5xx', 'the HTTP API answered 5xx', props.httpApi.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }), THRESHOLDS.http5xx);

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const graph = (title: string, left: IMetric[], extra: Partial<ConstructorParameters<typeof GraphWidget>[0]> = {}) =>
      new GraphWidget({ title, left, width: 12, height: 6, ...extra });
    const durationLimit: HorizontalAnnotation = { value: timeoutMs, label: 'timeout' };
    this.dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }),
    );
    this.dashboard.addWidgets(
      graph('Connections: WebSocket connects and messages', [webSocketMetric('ConnectCount'), webSocketMetric('MessageCount')]),
      graph(
        'Transitions by reason',
        REASONS.map((reason) => custom(METRICS.transitions, 'Sum', { [REASON_DIMENSION]: reason }).with({ label: reason })),
        { stacked: true },
      ),
    );
    this.dashboard.addWidgets(
      graph('Fan-out latency (decision to delivered post, ms)', [
        custom(METRICS.fanoutLatency, 'p50').with({ label: 'p50' }),
        custom(METRICS.fanoutLatency, 'p99').with({ label: 'p99' }),
        custom(METRICS.fanoutLatency, 'Maximum').with({ label: 'max' }),
      ]),
      graph('Fan-out failures', [fanoutFailures]),
    );
    this.dashboard.addWidgets(
      graph('Sweep lag (deadline to the pass that read it, ms)', [
        custom(METRICS.sweepLag, 'p99').with({ label: 'p99' }),
        custom(METRICS.sweepLag, 'Maximum').with({ label: 'max' }),
      ]),
      graph('Sweeper duration (ms)', [sweeper.metricDuration({ statistic: 'Maximum', period: ONE_MINUTE })], {
        leftAnnotations: [durationLimit],
      }),
    );
    this.dashboard.addWidgets(
      graph('Delivery: stream iterator age (max, ms)', [iteratorAge.with({ label: 'iterator age' })], {
        leftAnnotations: [{ value: THRESHOLDS.streamIteratorAgeMs, label: 'alarm' }],
      }),
      graph('Delivery: dead-letter queue (batches dropped after every retry)', [dlqMessages.with({ label: 'messages visible' })]),
    );
    this.dashboard.addWidgets(
      graph('Function errors', Object.entries(functions).map(([name, fn]) => fn.function.metricErrors({ period: FIVE_MINUTES, label: name }))),
      graph('Authorizer: refused tokens and errors; DynamoDB throttles', [
        custom(METRICS.tokensRefused, 'Sum').with({ label: 'tokens refused' }),
        custom(METRICS.authorizerErrors, 'Sum').with({ label: 'authorizer errors' }),
        tableThrottles,
      ]),
    );
    this.dashboard.addWidgets(
      graph('HTTP API: requests and 5xx', [
        props.httpApi.metricCount({ period: FIVE_MINUTES }),
        props.httpApi.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }),
      ]),
      graph('WebSocket API: errors', [webSocketErrors, webSocketMetric('ClientError')]),
    );
  }
}
