/**
 * The team presence page of the local stack: sign in, then the workspace roster pushed live.
 * Wiring only: the connection, heartbeats and activity are the client SDK's (`PresenceClient`,
 * with its DOM activity listeners and Worker timer); sign-in is session.ts, the roster's reasons
 * and order roster.ts, away reasons and an admin's calls supervisor.ts; rendering: the signed-in
 * page view.ts (with roster-view.ts, supervisor-view.ts, reports-view.ts), sign-in sign-in-view.ts.
 */
import { type ConnectionState, PresenceClient, type PresenceClientError } from '../../client/src/index.ts';
import { downloadReportCsv, fetchReport } from '#local/page/reports.ts';
import { type HeardPresence, hear, withReasons } from '#local/page/roster.ts';
import { type AwayReason, fetchAwayReasons, setAgentStatus, signOutAgent } from '#local/page/supervisor.ts';
import {
  forgetSession,
  loadConfig,
  type PageConfig,
  rememberSession,
  type Session,
  sessionFromToken,
  signInWithDemoToken,
  storedToken,
  whyRefused,
} from '#local/page/session.ts';
import { renderSignIn } from '#local/page/sign-in-view.ts';
import { renderApp } from '#local/page/view.ts';

/** How long to wait for `loggedOut` before leaving anyway (the socket may be gone). */
const LOGOUT_WAIT_MS = 3000;
/** The page's reconnect backoff: capped lower than the SDK's default, it is a local demo. */
const RECONNECT = { minDelayMs: 500, maxDelayMs: 15_000 };
/** The client's own errors about the connection: the banner shows those, not a toast. */
const CONNECTION_ERRORS = new Set<string>(['connection_failed', 'token_failed']);

const root = document.getElementById('app')!;
let config: PageConfig;
let current: { client: PresenceClient } | undefined;

function showSignIn(message?: string): void {
  renderSignIn(root, {
    devTokens: config.devTokens,
    message,
    onDemo: async (request) => startSession(await signInWithDemoToken(request)),
    onToken: async (token) => startSession(sessionFromToken(token)),
  });
}

function endSession(message?: string): void {
  const ending = current;
  current = undefined;
  ending?.client.close();
  forgetSession();
  showSignIn(message);
}

function startSession(session: Session): void {
  rememberSession(session);
  const client = new PresenceClient({
    url: config.wsUrl,
    token: () => session.token,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    activity: 'auto',
    reconnect: RECONNECT,
  });
  const isCurrent = () => current?.client === client;
  const heard = new Map<string, HeardPresence>();
  let state: ConnectionState = 'connecting';
  const render = () => {
    askForUnknownReasons();
    view.update(withReasons(client.roster, heard), state);
  };

  // The workspace's away reasons: read at the start and on every (re)connect, and again when the
  // roster names one the page does not know (added since), once per such id.
  let reasons: readonly AwayReason[] = [];
  const askedFor = new Set<string>();
  const loadReasons = () => {
    fetchAwayReasons(session.workspace, session.token).then(
      (fresh) => {
        if (!isCurrent()) return;
        reasons = fresh;
        view.setAwayReasons(fresh);
        render();
      },
      (error: unknown) => {
        if (isCurrent()) view.toast(`Could not load the away reasons: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  };
  const askForUnknownReasons = () => {
    let unknown = false;
    for (const entry of client.roster.values()) {
      const id = entry.awayReason;
      if (id === undefined || askedFor.has(id) || reasons.some((reason) => reason.id === id)) continue;
      askedFor.add(id);
      unknown = true;
    }
    if (unknown) loadReasons();
  };

  const view = renderApp(root, {
    workspace: session.workspace,
    userId: session.userId,
    name: session.name,
    admin: session.admin,
    onStatus: (status, reason) => {
      client.setStatus(status, { reason }).catch((error: unknown) => {
        view.toast(error instanceof Error ? error.message : String(error));
        // A refused setStatus leaves the picker on what the server still has.
        render();
      });
    },
    onScope: (teams) => {
      client.subscribe(teams).catch((error: unknown) => {
        view.toast(error instanceof Error ? error.message : String(error));
      });
    },
    loadReport: (query) => fetchReport(session.workspace, session.token, query),
    downloadCsv: (query) => downloadReportCsv(session.workspace, session.token, query),
    setAgentStatus: async (userId, status, reason) => {
      try {
        await setAgentStatus(session.workspace, session.token, userId, status, reason);
      } catch (error) {
        // A reason refused may be one removed since the page read them: read them again.
        if (reason !== undefined) loadReasons();
        throw error;
      }
    },
    signOutAgent: (userId) => signOutAgent(session.workspace, session.token, userId),
    onLogout: () => {
      // The client closes itself on `loggedOut` (or when it cannot send): the 'closed' state below.
      client.logout().catch(() => {});
      setTimeout(() => {
        if (isCurrent()) endSession('You have logged out.');
      }, LOGOUT_WAIT_MS);
    },
  });

  /**
   * A socket closed before it opened. A browser cannot see the handshake's HTTP status, so ask the
   * HTTP API: a refused token ends the session with the reason; otherwise the client keeps retrying.
   */
  let askingWhy = false;
  const checkRefusal = async () => {
    if (askingWhy) return;
    askingWhy = true;
    try {
      const refusal = await whyRefused(session);
      if (refusal !== null && isCurrent()) endSession(refusal);
    } finally {
      askingWhy = false;
    }
  };

  // Who logged this user out, told just before the client closes: an admin's name, or none.
  let loggedOut = 'You have logged out.';
  client.on('loggedOut', (event) => {
    if (event.by !== undefined && event.by !== session.userId) loggedOut = `Signed out by ${client.roster.get(event.by)?.name ?? event.by}.`;
  });
  // The client emits `presence` before the `roster` it changed, so the reason is there to render.
  client.on('presence', (event) => hear(heard, event));
  client.on('roster', render);
  client.on('connection', (next) => {
    if (!isCurrent()) return;
    // Only the page closes its client otherwise: 'closed' means this user logged out, here or elsewhere.
    if (next === 'closed') return endSession(loggedOut);
    if (next === 'open' && state !== 'open') loadReasons();
    state = next;
    render();
  });
  client.on('error', (error: PresenceClientError) => {
    if (!isCurrent()) return;
    if (CONNECTION_ERRORS.has(error.code)) {
      // Reported before the state moves on: not 'open' means this attempt never got through.
      if (error.code === 'connection_failed' && client.connectionState !== 'open') void checkRefusal();
      return;
    }
    view.toast(error.message);
    render();
  });
  current = { client };
  render();
  // Rejects only when the session ends before the first snapshot; the events above cover that.
  client.connect().catch(() => {});
}

async function main(): Promise<void> {
  try {
    config = await loadConfig();
  } catch (error) {
    root.textContent = `Cannot reach the presence stack: ${error instanceof Error ? error.message : String(error)}`;
    return;
  }
  const token = storedToken();
  if (!token) return showSignIn();
  try {
    startSession(sessionFromToken(token));
  } catch (error) {
    forgetSession();
    showSignIn(error instanceof Error ? error.message : String(error));
  }
}

void main();
