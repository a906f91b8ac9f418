/**
 * The local stand-in for the EventBridge bus: each `PresenceChanged` and `AgentUnavailable` event is logged and, when
 * PRESENCE_EVENTS_WEBHOOK is set, POSTed there in the envelope EventBridge delivers to targets,
 * so an assignment function can be developed against the local stack.
 */
import { randomUUID } from 'node:crypto';
import { EVENT_DETAIL_TYPE, EVENT_SOURCE, UNAVAILABLE_DETAIL_TYPE } from '#adapters/eventbridge.ts';
import type { AgentUnavailable, EventPublisher, Logger, PresenceChanged } from '#app/ports.ts';

export interface LocalEventPublisherOptions {
  logger: Logger;
  webhookUrl?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type BusEvent = { detailType: string; detail: PresenceChanged | AgentUnavailable };

function eventBridgeEnvelope({ detailType, detail: event }: BusEvent) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source: EVENT_SOURCE,
    account: '000000000000',
    time: new Date(event.at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'local',
    resources: [],
    detail: event,
  };
}

export class LocalEventPublisher implements EventPublisher {
  private readonly fetch: typeof fetch;
  /** Deliveries run one after another, so the webhook sees each user's events in order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: LocalEventPublisherOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  publish(events: PresenceChanged[]): Promise<void> {
    return this.put(events.map((detail) => ({ detailType: EVENT_DETAIL_TYPE, detail })));
  }

  publishUnavailable(events: AgentUnavailable[]): Promise<void> {
    return this.put(events.map((detail) => ({ detailType: UNAVAILABLE_DETAIL_TYPE, detail })));
  }

  private async put(events: BusEvent[]): Promise<void> {
    for (const event of events) this.options.logger.info(event.detailType, { ...event.detail });
    const url = this.options.webhookUrl;
    if (!url || events.length === 0) return;
    const delivery = this.queue.then(() => this.deliver(url, events));
    this.queue = delivery;
    await delivery;
  }

  /** Waits for deliveries in flight (on shutdown). */
  drain(): Promise<void> {
    return this.queue;
  }

  private async deliver(url: string, events: BusEvent[]): Promise<void> {
    for (const event of events) {
      try {
        const response = await this.fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(eventBridgeEnvelope(event)),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 3000),
        });
        if (!response.ok) this.options.logger.warn('the events webhook refused an event', { url, status: response.status });
      } catch (error) {
        // Like a failed EventBridge target: logged, never a failure of the transition.
        this.options.logger.warn('the events webhook is unreachable', { url, error: String(error) });
      }
    }
  }
}
