/** `PresenceChanged` domain events on an EventBridge bus. */
import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { EventPublisher, PresenceChanged } from '#app/ports.ts';

export const EVENT_SOURCE = 'presence';
export const EVENT_DETAIL_TYPE = 'PresenceChanged';
const ENTRIES_PER_CALL = 10;

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: PresenceChanged[]): Promise<void> {
    for (let start = 0; start < events.length; start += ENTRIES_PER_CALL) {
      const entries: PutEventsRequestEntry[] = events.slice(start, start + ENTRIES_PER_CALL).map((event) => ({
        EventBusName: this.busName,
        Source: EVENT_SOURCE,
        DetailType: EVENT_DETAIL_TYPE,
        Time: new Date(event.at),
        Detail: JSON.stringify(event),
      }));
      const result = await this.client.send(new PutEventsCommand({ Entries: entries }));
      if (result.FailedEntryCount) {
        throw new Error(`EventBridge rejected ${result.FailedEntryCount} of ${entries.length} PresenceChanged events`);
      }
    }
  }
}
