/** `PresenceChanged` and `AgentUnavailable` domain events on an EventBridge bus. */
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { AgentUnavailable, EventPublisher, PresenceChanged } from '#app/ports.ts';

export const EVENT_SOURCE = 'presence';
export const EVENT_DETAIL_TYPE = 'PresenceChanged';
export const UNAVAILABLE_DETAIL_TYPE = 'AgentUnavailable';
const ENTRIES_PER_CALL = 10;

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  publish(events: PresenceChanged[]): Promise<void> {
    return this.put(EVENT_DETAIL_TYPE, events);
  }

  publishUnavailable(events: AgentUnavailable[]): Promise<void> {
    return this.put(UNAVAILABLE_DETAIL_TYPE, events);
  }

  private async put(detailType: string, events: Array<{ at: number }>): Promise<void> {
    for (let start = 0; start < events.length; start += ENTRIES_PER_CALL) {
      const entries: PutEventsRequestEntry[] = events.slice(start, start + ENTRIES_PER_CALL).map((event) => ({
        EventBusName: this.busName,
        Source: EVENT_SOURCE,
        DetailType: detailType,
        Time: new Date(event.at),
        Detail: JSON.stringify(event),
      }));
      const result = await this.client.send(new PutEventsCommand({ Entries: entries }));
      if (result.FailedEntryCount) {
        throw new Error(`EventBridge rejected ${result.FailedEntryCount} of ${entries.length} ${detailType} events`);
      }
    }
  }
}
