/** What counts as the user touching the page: pointer, keyboard, touch, wheel, focus; throttled. */

const ACTIVITY_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'touchstart', 'wheel'] as const;

export interface ActivityHandlers {
  /** At most once per `throttleMs`, on the first event of a burst. */
  onActivity(): void;
  /** The tab became visible again. */
  onVisible(): void;
}

/** Starts listening; returns a function that stops. */
export function watchActivity(handlers: ActivityHandlers, throttleMs = 1000): () => void {
  let last = -Infinity;
  const activity = () => {
    const now = performance.now();
    if (now - last < throttleMs) return;
    last = now;
    handlers.onActivity();
  };
  const visibility = () => {
    if (document.visibilityState === 'visible') handlers.onVisible();
  };
  const options: AddEventListenerOptions = { capture: true, passive: true };
  for (const type of ACTIVITY_EVENTS) window.addEventListener(type, activity, options);
  window.addEventListener('focus', activity, options);
  document.addEventListener('visibilitychange', visibility);
  return () => {
    for (const type of ACTIVITY_EVENTS) window.removeEventListener(type, activity, options);
    window.removeEventListener('focus', activity, options);
    document.removeEventListener('visibilitychange', visibility);
  };
}
