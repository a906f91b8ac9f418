/**
 * Names of the custom CloudWatch metrics the Lambda entries emit (Powertools EMF). The CDK alarms and
 * dashboard read the same constants, so a rename cannot silently break an alarm. No imports on purpose.
 */
export const METRICS = {
  /** Count per committed transition, dimension `reason`. */
  transitions: 'Transitions',
  /** Milliseconds from a user-driven transition (connect, active, manual, logout) to a delivered post. */
  fanoutLatency: 'FanoutLatency',
  /** Count of presence posts that failed for a reason other than a gone connection. */
  fanoutFailures: 'FanoutFailures',
  /** Count of PresenceChanged events EventBridge did not take. */
  eventPublishFailures: 'EventPublishFailures',
  /** Milliseconds between the earliest due deadline of a page and the sweep pass that read it. */
  sweepLag: 'SweepLag',
  /** Count of authorizer invocations that failed for a reason other than a refused token. */
  authorizerErrors: 'AuthorizerErrors',
  /** Count of tokens the authorizer refused (401): client mistakes, not failures. */
  tokensRefused: 'TokensRefused',
} as const;

/** The dimension `Transitions` is split by. */
export const REASON_DIMENSION = 'reason';

/** Reasons whose transition time is the moment of the decision, so post time minus it is the fan-out latency. */
export const DECISION_TIMED_REASONS: readonly string[] = ['connect', 'active', 'manual', 'logout', 'admin'];
