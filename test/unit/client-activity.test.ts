/**
 * What the client's heartbeats report (client/src/activity.ts): the active flag taken by each
 * beat, prompt beats spaced a second apart, the ticker (setInterval on Node), and the DOM
 * activity listeners against stand-ins of a page's globals.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Activity, type ActivityTarget } from '../../client/src/activity.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('Activity', () => {
  it('take() tells whether there was activity since the last take, and clears it', () => {
    const activity = new Activity(() => {});
    expect(activity.take()).toBe(false);

    activity.markActive();
    activity.markActive();

    expect(activity.take()).toBe(true);
    expect(activity.take()).toBe(false);
  });

  it('beats every interval once started, and no more once stopped', () => {
    let beats = 0;
    const activity = new Activity(() => beats++);

    activity.start(100, undefined);
    vi.advanceTimersByTime(350);
    expect(beats).toBe(3);

    // Starting again replaces the ticker rather than adding one.
    activity.start(100, undefined);
    vi.advanceTimersByTime(100);
    expect(beats).toBe(4);

    activity.stop();
    vi.advanceTimersByTime(1000);
    expect(beats).toBe(4);
  });

  it('a prompt beat goes at once, then at most one a second; prompts while one is waiting are one', () => {
    vi.setSystemTime(10_000);
    let beats = 0;
    const activity = new Activity(() => beats++);

    activity.prompt();
    expect(beats).toBe(1);
    activity.prompt();
    activity.prompt();
    expect(beats).toBe(1);
    vi.advanceTimersByTime(999);
    expect(beats).toBe(1);
    vi.advanceTimersByTime(1);
    expect(beats).toBe(2);

    vi.advanceTimersByTime(5000);
    activity.prompt();
    expect(beats).toBe(3);
  });

  it('stop() cancels a waiting prompt beat, and the next prompt after a restart (a reconnect) still beats', () => {
    vi.setSystemTime(10_000);
    let beats = 0;
    const activity = new Activity(() => beats++);
    activity.prompt();
    activity.prompt();

    activity.stop();
    vi.advanceTimersByTime(5000);
    expect(beats).toBe(1);

    activity.start(60_000, undefined);
    activity.prompt();
    expect(beats).toBe(2);
  });
});

describe('Activity: DOM listeners', () => {
  /** A page's globals, enough for the listeners: window's and document's addEventListener. */
  function page() {
    const window = new EventTarget();
    const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window));
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window));
    vi.stubGlobal('document', document);
    return { window, document };
  }

  function target(): ActivityTarget & { calls: string[] } {
    const calls: string[] = [];
    return { calls, markActive: () => calls.push('markActive'), promptBeat: () => calls.push('promptBeat'), wake: () => calls.push('wake') };
  }

  it('marks activity on input at most once a second, and on the tab shown prompts a beat and wakes', () => {
    vi.setSystemTime(10_000);
    const { window, document } = page();
    const client = target();
    const activity = new Activity(() => {});
    activity.start(60_000, client);

    window.dispatchEvent(new Event('keydown'));
    window.dispatchEvent(new Event('pointermove'));
    vi.advanceTimersByTime(1000);
    window.dispatchEvent(new Event('wheel'));
    expect(client.calls).toEqual(['markActive', 'markActive']);

    client.calls.length = 0;
    document.dispatchEvent(new Event('visibilitychange'));
    expect(client.calls).toEqual(['markActive', 'promptBeat', 'wake']);

    client.calls.length = 0;
    document.visibilityState = 'hidden';
    document.dispatchEvent(new Event('visibilitychange'));
    window.dispatchEvent(new Event('online'));
    expect(client.calls).toEqual(['wake']);
    activity.stop();
  });

  it('stop() removes the listeners', () => {
    vi.setSystemTime(10_000);
    const { window, document } = page();
    const client = target();
    const activity = new Activity(() => {});
    activity.start(60_000, client);

    activity.stop();
    window.dispatchEvent(new Event('keydown'));
    window.dispatchEvent(new Event('online'));
    document.dispatchEvent(new Event('visibilitychange'));

    expect(client.calls).toEqual([]);
  });

  it('without a page (Node), listens to nothing', () => {
    const client = target();
    const activity = new Activity(() => {});

    expect(() => activity.start(60_000, client)).not.toThrow();
    activity.stop();
    expect(client.calls).toEqual([]);
  });
});
