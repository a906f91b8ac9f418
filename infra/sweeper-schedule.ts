/**
 * The sweeper's schedule: EventBridge Scheduler invokes the sweeper every minute, and the sweeper
 * loops inside its minute, one pass per sweep interval, stopping passes before its timeout.
 */
import { type CfnElement, Duration, Stack, Validations } from 'aws-cdk-lib';
import { ServicePrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { Construct } from 'constructs';
import type { PresenceFunction } from './presence-function.ts';

/** The schedule's period: the sweeper loops inside it, one pass per sweep interval. */
const SWEEP_WINDOW_SECONDS = 60;
/** Time kept free before the timeout for the last pass to finish. */
const SWEEP_RESERVE_SECONDS = 10;
/** The sweeper's timeout: its window plus the reserve, so the core stops passes before Lambda stops it. */
export const SWEEPER_TIMEOUT = Duration.seconds(SWEEP_WINDOW_SECONDS + SWEEP_RESERVE_SECONDS);

/** The sweeper's window, reserve and pass interval, as it reads them. */
export function sweeperEnvironment(sweepIntervalSeconds: number): Record<string, string> {
  return {
    PRESENCE_SWEEP_INTERVAL_SECONDS: String(sweepIntervalSeconds),
    PRESENCE_SWEEP_WINDOW_SECONDS: String(SWEEP_WINDOW_SECONDS),
    PRESENCE_SWEEP_RESERVE_SECONDS: String(SWEEP_RESERVE_SECONDS),
  };
}

/** Invokes the sweeper every minute, without retries: the next minute's invocation comes anyway. */
export function scheduleSweeper(scope: Construct, sweeperFunction: PresenceFunction, stage: string): void {
  const sweeper = sweeperFunction.function;
  // A late or throttled invocation is worthless once the next minute's has started.
  sweeper.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(2) });
  const schedulerRole = new Role(scope, 'SweepScheduleRole', {
    assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
    description: 'EventBridge Scheduler invokes the presence sweeper',
  });
  new Schedule(scope, 'SweepSchedule', {
    description: `presence (${stage}) sweeper, every minute; it loops inside its minute`,
    schedule: ScheduleExpression.rate(Duration.minutes(1)),
    target: new LambdaInvoke(sweeper, { role: schedulerRole, retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
  });
  Validations.of(schedulerRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${Stack.of(scope).getLogicalId(sweeper.node.defaultChild as CfnElement)}.Arn>:*]`,
    reason:
      'Scheduler target grant (grantInvoke) covers the sweeper function and its versions/aliases (ARN:*); it names this one function only.',
  });
}
