/**
 * What heartbeats report: whether the agent was active since the previous beat. Activity comes
 * from DOM listeners in browsers or `markActive()` elsewhere; beats tick on a Worker timer that
 * background tabs do not slow down, and a prompt beat (activity while offline, the tab shown
 * again) goes at once, at most one a second.
 */

/** Immediate heartbeats (activity while offline, tab shown) are at most this frequent. */
const PROMPT_BEAT_SPACING_MS = 1000;

/** What the DOM listeners call on the client. */
export interface ActivityTarget {
  markActive(): void;
  promptBeat(): void;
  wake(): void;
}

/** The active flag and the beats' timers; `beat` sends one heartbeat if it can. */
export class Activity {
  private activeSinceBeat = false;
  private lastPromptBeat = 0;
  private promptBeatTimer: ReturnType<typeof setTimeout> | undefined;
  private ticker: { stop(): void } | undefined;
  private detachListeners: (() => void) | undefined;

  constructor(private readonly beat: () => void) {}

  /** Beats every `intervalMs`; with a `target`, listens for the DOM's activity (browsers). */
  start(intervalMs: number, target: ActivityTarget | undefined): void {
    this.ticker?.stop();
    this.ticker = startTicker(intervalMs, this.beat);
    if (target) this.detachListeners = attachActivity(target);
  }

  stop(): void {
    clearTimeout(this.promptBeatTimer);
    this.promptBeatTimer = undefined;
    this.ticker?.stop();
    this.ticker = undefined;
    this.detachListeners?.();
    this.detachListeners = undefined;
  }

  /** Records activity; the next heartbeat reports it. */
  markActive(): void {
    this.activeSinceBeat = true;
  }

  /** Whether there was activity since the last call: what a heartbeat sends. */
  take(): boolean {
    const active = this.activeSinceBeat;
    this.activeSinceBeat = false;
    return active;
  }

  /** A heartbeat now, or as soon as the spacing allows. */
  prompt(): void {
    if (this.promptBeatTimer) return;
    const wait = this.lastPromptBeat + PROMPT_BEAT_SPACING_MS - Date.now();
    const send = () => {
      this.promptBeatTimer = undefined;
      this.lastPromptBeat = Date.now();
      this.beat();
    };
    if (wait <= 0) send();
    else this.promptBeatTimer = setTimeout(send, wait);
  }
}

/**
 * A repeating timer. In browsers a Worker's timer keeps its pace in background tabs, where the
 * page's own timers are slowed to once a minute or less; elsewhere setInterval.
 */
function startTicker(intervalMs: number, tick: () => void): { stop(): void } {
  const scope = globalThis as { Worker?: typeof Worker; Blob?: typeof Blob; URL?: typeof URL; document?: unknown };
  if (scope.Worker && scope.Blob && scope.URL?.createObjectURL && scope.document) {
    try {
      const source = `let t;onmessage=(e)=>{clearInterval(t);if(e.data>0)t=setInterval(()=>postMessage(0),e.data)}`;
      const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      const worker = new Worker(url);
      URL.revokeObjectURL(url);
      worker.onmessage = () => tick();
      worker.postMessage(intervalMs);
      return { stop: () => worker.terminate() };
    } catch {
      // A Content-Security-Policy without blob: workers: fall back to the page's timer.
    }
  }
  const timer = setInterval(tick, intervalMs);
  return { stop: () => clearInterval(timer) };
}

const ACTIVITY_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'touchstart', 'wheel', 'focus'] as const;

/** DOM activity listeners (throttled to one mark a second) and a prompt beat when the tab is shown. */
function attachActivity(client: ActivityTarget): (() => void) | undefined {
  const scope = globalThis as { addEventListener?: typeof addEventListener; document?: Document };
  if (!scope.addEventListener || !scope.document) return undefined;
  const document = scope.document;
  let last = 0;
  const onActivity = () => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    client.markActive();
  };
  const onVisibility = () => {
    if (document.visibilityState !== 'visible') return;
    client.markActive();
    client.promptBeat();
    client.wake();
  };
  const onOnline = () => client.wake();
  for (const name of ACTIVITY_EVENTS) scope.addEventListener(name, onActivity, { passive: true, capture: true });
  document.addEventListener('visibilitychange', onVisibility);
  scope.addEventListener('online', onOnline);
  return () => {
    for (const name of ACTIVITY_EVENTS) globalThis.removeEventListener(name, onActivity, { capture: true });
    document.removeEventListener('visibilitychange', onVisibility);
    globalThis.removeEventListener('online', onOnline);
  };
}
