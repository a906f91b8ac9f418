/**
 * The team presence page of the local stack: sign in, then the workspace roster pushed live.
 * Wiring only: the connection (connection.ts), activity (activity.ts), sign-in (session.ts) and
 * rendering (view.ts) live in their own modules.
 */
import { watchActivity } from '#local/page/activity.ts';
import { type ConnectionState, PresenceConnection, type Roster } from '#local/page/connection.ts';
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
import { renderApp, renderSignIn } from '#local/page/view.ts';

/** How long to wait for `loggedOut` before leaving anyway (the socket may be gone). */
const LOGOUT_WAIT_MS = 3000;

const root = document.getElementById('app')!;
let config: PageConfig;
let current: { connection: PresenceConnection; stopWatching: () => void } | undefined;

function showSignIn(message?: string): void {
  renderSignIn(root, {
    devTokens: config.devTokens,
    message,
    onDemo: async (request) => startSession(await signInWithDemoToken(request)),
    onToken: async (token) => startSession(sessionFromToken(token)),
  });
}

function endSession(message?: string): void {
  current?.connection.stop();
  current?.stopWatching();
  current = undefined;
  forgetSession();
  showSignIn(message);
}

function startSession(session: Session): void {
  rememberSession(session);
  let roster: Roster = new Map();
  let state: ConnectionState = 'connecting';
  const view = renderApp(root, {
    workspace: session.workspace,
    userId: session.userId,
    name: session.name,
    onStatus: (status) => connection.setStatus(status),
    onLogout: () => {
      if (!connection.logout()) return endSession('You have logged out.');
      setTimeout(() => {
        if (current?.connection === connection) endSession('You have logged out.');
      }, LOGOUT_WAIT_MS);
    },
  });
  const connection: PresenceConnection = new PresenceConnection({
    wsUrl: config.wsUrl,
    token: session.token,
    userId: session.userId,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    onHandshakeFailed: async () => {
      const refusal = await whyRefused(session);
      if (refusal === null) return 'retry';
      if (current?.connection === connection) endSession(refusal);
      return 'stop';
    },
    onRoster: (next) => {
      roster = next;
      view.update(roster, state);
    },
    onState: (next) => {
      state = next;
      view.update(roster, state);
    },
    onServerError: (error) => {
      view.toast(error.message);
      // A refused setStatus leaves the picker on what the server still has.
      view.update(roster, state);
    },
    onLoggedOut: () => {
      if (current?.connection === connection) endSession('You have logged out.');
    },
  });
  current = {
    connection,
    stopWatching: watchActivity({ onActivity: () => connection.noteActivity(), onVisible: () => connection.wake() }),
  };
  view.update(roster, state);
  connection.start();
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
