/**
 * The client's listeners: those of its events (`on`), and those of its store, the one value a UI
 * renders. A listener's bug never breaks the connection.
 */
import type { PresenceClientError } from './errors.ts';
import type { LoggedOutMessage, PresenceEvent, RosterEntry } from './protocol.ts';
import type { Roster } from './roster.ts';
import type { ConnectionState } from './transport.ts';

/**
 * What a UI renders: a new frozen value whenever the roster or the connection state changes, the
 * same value otherwise (so `useSyncExternalStore` and memoized selectors re-render only on news).
 */
export interface PresenceSnapshot {
  readonly roster: Roster;
  readonly connection: ConnectionState;
  /** This client's own entry, once the first snapshot arrived. */
  readonly me: Readonly<RosterEntry> | undefined;
}

/** A framework-neutral external store: the shape React's `useSyncExternalStore` takes. */
export interface PresenceStore {
  /** Calls `listener` after every change of the snapshot; returns the function that unsubscribes. */
  subscribe(listener: () => void): () => void;
  getSnapshot(): PresenceSnapshot;
}

export interface Events {
  roster: (roster: Roster) => void;
  presence: (event: PresenceEvent) => void;
  connection: (state: ConnectionState) => void;
  error: (error: PresenceClientError) => void;
  /** The user was logged out on every device: by themself, or by an admin (`by`). The client closes right after. */
  loggedOut: (event: LoggedOutMessage) => void;
}

/** What the store reads: the client's own getters. */
interface StoreSource {
  readonly roster: Roster;
  readonly connectionState: ConnectionState;
  readonly me: Readonly<RosterEntry> | undefined;
}

export class Emitter {
  private readonly listeners: { [K in keyof Events]: Set<Events[K]> } = {
    roster: new Set(),
    presence: new Set(),
    connection: new Set(),
    error: new Set(),
    loggedOut: new Set(),
  };
  private readonly storeListeners = new Set<() => void>();
  private storeSnapshot: PresenceSnapshot | undefined;

  readonly store: PresenceStore = {
    subscribe: (listener) => {
      this.storeListeners.add(listener);
      return () => {
        this.storeListeners.delete(listener);
      };
    },
    getSnapshot: () => {
      const held = this.storeSnapshot;
      const { roster, connectionState } = this.source;
      if (held && held.roster === roster && held.connection === connectionState) return held;
      this.storeSnapshot = Object.freeze({ roster, connection: connectionState, me: this.source.me });
      return this.storeSnapshot;
    },
  };

  constructor(private readonly source: StoreSource) {}

  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const listeners = [...this.listeners[event]] as Array<(...values: Parameters<Events[K]>) => void>;
    // The store's listeners hear of every new snapshot: a roster or a connection state.
    if (event === 'roster' || event === 'connection') listeners.push(...this.storeListeners);
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (error) {
        // A listener's bug must not break the connection; surface it where it can be seen.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}
