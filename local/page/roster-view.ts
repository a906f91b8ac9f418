/**
 * The Team view of the team page: the summary and the roster's rows in display order, each with
 * its avatar, name, teams and status text, and an admin's controls on teammates' rows. Rows are
 * kept across updates and moved only when out of place, so controls keep their choice and focus.
 */
import type { ConnectionState, Reason, Status } from '../../client/src/index.ts';
import { avatar, h, STATUS_LABEL } from '#local/page/dom.ts';
import { type PageEntry, sortRoster } from '#local/page/roster.ts';
import { type AwayReason, reasonLabel } from '#local/page/supervisor.ts';
import { type SupervisorActions, type SupervisorControls, supervisorControls } from '#local/page/supervisor-view.ts';

const OFFLINE_REASON: Partial<Record<Reason, string>> = {
  idle: 'idle',
  disconnect: 'disconnected',
  timeout: 'timeout',
  logout: 'logged out',
};

/** How an offline status's reason reads ("idle", "logged out"...); none for the others. */
export function offlineReason(reason: Reason | null): string | undefined {
  return reason ? OFFLINE_REASON[reason] : undefined;
}

/** What a roster row's status text needs besides the entry. */
export interface StatusContext {
  /** The page's own user: their own doing reads "you". */
  viewerId: string;
  /** The workspace's away reasons, for labels. */
  reasons: readonly AwayReason[];
  /** A user's display name (from the roster), else their id. */
  nameOf(userId: string): string;
}

/**
 * A roster row's status: `Online`, `Away: Lunch` (the reason's label), `Offline · idle`; with
 * `, set by Dana` when an admin set it (`by`, when not the user themself), and `Offline · signed
 * out by Dana` when an admin signed them out. The page's own user is "you".
 */
export function statusText(entry: Pick<PageEntry, 'userId' | 'status' | 'reason' | 'awayReason' | 'by'>, context: StatusContext): string {
  const by = entry.by !== undefined && entry.by !== entry.userId ? (entry.by === context.viewerId ? 'you' : context.nameOf(entry.by)) : undefined;
  if (entry.status === 'offline') {
    // An offline status has an admin only when one signed the user out.
    if (by !== undefined) return `${STATUS_LABEL.offline} · signed out by ${by}`;
    const reason = offlineReason(entry.reason);
    return reason ? `${STATUS_LABEL.offline} · ${reason}` : STATUS_LABEL.offline;
  }
  const label = entry.status === 'away' && entry.awayReason !== undefined ? `${STATUS_LABEL.away}: ${reasonLabel(context.reasons, entry.awayReason)}` : STATUS_LABEL[entry.status];
  return by !== undefined ? `${label}, set by ${by}` : label;
}

/** Who is looking (their own row says "you"), and the controls' calls. */
export interface RosterViewer extends SupervisorActions {
  userId: string;
  /** The signed-in user is an admin: each teammate's row gets Set online, Set away and Sign out. */
  admin: boolean;
}

export interface RosterView {
  /** The Team view: its heading, the summary and the list. */
  element: HTMLElement;
  update(roster: ReadonlyMap<string, PageEntry>, state: ConnectionState, reasons: readonly AwayReason[]): void;
}

export function renderRoster(viewer: RosterViewer): RosterView {
  const summary = h('p', { class: 'summary', 'data-testid': 'roster-summary' });
  const list = h('ul', { class: 'roster', 'aria-labelledby': 'roster-title', 'data-testid': 'roster' });
  const element = h('main', {}, h('h2', { id: 'roster-title' }, 'Team'), summary, list);
  /** The rows by user id, kept across updates so an admin's controls keep their choice and focus. */
  const rows = new Map<string, Row>();

  return {
    element,
    update(roster, state, reasons) {
      const entries = sortRoster(roster.values());
      const count = (status: Status) => entries.filter((entry) => entry.status === status).length;
      const counts = `${entries.length} ${entries.length === 1 ? 'person' : 'people'}: ${count('online')} online, ${count('away')} away, ${count('offline')} offline`;
      if (entries.length === 0) summary.textContent = state === 'open' ? 'Loading the roster…' : 'Connecting…';
      else summary.textContent = state === 'open' ? counts : `Last known, while reconnecting: ${counts}`;
      // While disconnected the roster is what we last heard, not live: say so and dim it.
      list.toggleAttribute('data-stale', state !== 'open');
      const context: StatusContext = { viewerId: viewer.userId, reasons, nameOf: (userId) => roster.get(userId)?.name ?? userId };
      const shown = entries.map((entry) => {
        let row = rows.get(entry.userId);
        if (!row) {
          const isSelf = entry.userId === viewer.userId;
          row = { element: h('li', { 'data-testid': `roster-row-${entry.userId}`, 'data-self': isSelf ? 'true' : undefined }), parts: [] };
          if (viewer.admin && !isSelf) {
            row.controls = supervisorControls(entry.userId, viewer);
            row.element.append(row.controls.element, row.controls.error);
          }
          rows.set(entry.userId, row);
        }
        fillRow(row, entry, entry.userId === viewer.userId, context);
        row.controls?.update(entry, reasons, state === 'open');
        return row.element;
      });
      const kept = new Set(shown);
      for (const [userId, row] of rows) {
        if (kept.has(row.element)) continue;
        row.element.remove();
        rows.delete(userId);
      }
      // Move only the rows out of place, so a row being used mostly stays where it is.
      for (const [index, element] of shown.entries()) {
        if (list.children[index] !== element) list.insertBefore(element, list.children[index] ?? null);
      }
    },
  };
}

/** A roster row: its element, the parts each update redraws, and an admin's controls (kept as they are). */
interface Row {
  element: HTMLElement;
  parts: HTMLElement[];
  controls?: SupervisorControls;
}

/** Redraws a row's avatar, name and status for the entry; the controls after them stay untouched. */
function fillRow(row: Row, entry: PageEntry, isSelf: boolean, context: StatusContext): void {
  row.element.dataset.status = entry.status;
  const parts = rosterRowParts(entry, isSelf, statusText(entry, context));
  if (row.parts.length === 0) row.element.prepend(...parts);
  else {
    for (const [index, part] of row.parts.entries()) part.replaceWith(parts[index]!);
  }
  row.parts = parts;
}

function rosterRowParts(entry: PageEntry, isSelf: boolean, statusText: string): HTMLElement[] {
  return [
    avatar(entry, statusText, `status-dot-${entry.userId}`),
    h(
      'div',
      { class: 'who' },
      h(
        'div',
        { class: 'name' },
        h('span', { 'data-testid': `roster-name-${entry.userId}` }, entry.name),
        isSelf ? h('span', { class: 'you' }, '(you)') : null,
        entry.name !== entry.userId ? h('span', { class: 'user-id' }, entry.userId) : null,
      ),
      entry.teams.length > 0
        ? h('div', { class: 'teams' }, h('span', { class: 'visually-hidden' }, 'Teams: '), ...entry.teams.map((team) => h('span', { class: 'team' }, team)))
        : null,
    ),
    h('span', { class: 'status-text', 'aria-hidden': 'true', 'data-testid': `roster-status-${entry.userId}` }, statusText),
  ];
}
