/**
 * An admin's controls on a teammate's roster row: Set online, an away reason and Set away, Sign
 * out. The server decides who may: the page only offers them to an admin.
 */
import type { ChosenStatus } from '../../client/src/index.ts';
import { h } from '#local/page/dom.ts';
import type { PageEntry } from '#local/page/roster.ts';
import { type AwayReason, reasonLabel } from '#local/page/supervisor.ts';

/** The HTTP API's calls the controls make. */
export interface SupervisorActions {
  /** An admin sets a teammate's status; rejects with the server's message. */
  setAgentStatus(userId: string, status: ChosenStatus, reason?: string): Promise<void>;
  /** An admin signs a teammate out everywhere; rejects with the server's message. */
  signOutAgent(userId: string): Promise<void>;
}

export interface SupervisorControls {
  /** Set online, the away reason, Set away, Sign out. */
  element: HTMLElement;
  /** Why the last action failed, under the row; empty and hidden otherwise. */
  error: HTMLElement;
  update(entry: PageEntry, reasons: readonly AwayReason[], open: boolean): void;
}

/**
 * An admin's controls for one teammate. Each calls the HTTP API; the change itself arrives like
 * any other (a `presence` message), so the row shows it then. A refusal stays under the row until
 * the next action.
 */
export function supervisorControls(userId: string, handlers: SupervisorActions): SupervisorControls {
  const setOnline = h('button', { type: 'button', 'data-testid': `set-online-${userId}` }, 'Set online') as HTMLButtonElement;
  const reason = h('select', { 'data-testid': `away-reason-${userId}` }) as HTMLSelectElement;
  const setAway = h('button', { type: 'button', 'data-testid': `set-away-${userId}` }, 'Set away') as HTMLButtonElement;
  const signOut = h('button', { type: 'button', class: 'danger', 'data-testid': `sign-out-${userId}` }, 'Sign out') as HTMLButtonElement;
  const element = h('div', { class: 'supervise', role: 'group' }, setOnline, reason, setAway, signOut);
  const error = h('p', { class: 'row-error', role: 'alert', 'data-testid': `supervise-error-${userId}`, hidden: true });
  const buttons = [setOnline, setAway, signOut];
  let name = userId;
  let reasonChoices = '';
  let busy = false;
  let open = false;
  const enable = () => {
    for (const button of buttons) button.disabled = busy || !open;
  };
  const run = (what: string, action: () => Promise<void>) => {
    busy = true;
    enable();
    action().then(
      () => {
        error.textContent = '';
        error.hidden = true;
      },
      (failure: unknown) => {
        error.textContent = `Could not ${what} ${name}: ${failure instanceof Error ? failure.message : String(failure)}`;
        error.hidden = false;
      },
    ).finally(() => {
      busy = false;
      enable();
    });
  };
  setOnline.addEventListener('click', () => run('set online', () => handlers.setAgentStatus(userId, 'online')));
  setAway.addEventListener('click', () => run('set away', () => handlers.setAgentStatus(userId, 'away', reason.value || undefined)));
  signOut.addEventListener('click', () => run('sign out', () => handlers.signOutAgent(userId)));
  return {
    element,
    error,
    update(entry, reasons, isOpen) {
      name = entry.name;
      open = isOpen;
      element.setAttribute('aria-label', `Supervise ${entry.name}`);
      reason.setAttribute('aria-label', `Away reason for ${entry.name}`);
      const choices = JSON.stringify(reasons);
      if (choices !== reasonChoices) {
        reasonChoices = choices;
        const selected = reason.value;
        reason.replaceChildren(h('option', { value: '' }, 'No reason'), ...reasons.map((each) => h('option', { value: each.id }, reasonLabel(reasons, each.id, true))));
        reason.value = reasons.some((each) => each.id === selected) ? selected : '';
      }
      enable();
    },
  };
}
