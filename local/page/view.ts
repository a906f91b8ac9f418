/**
 * Rendering of the team page. Every piece of data (names, ids, teams, server messages) goes in
 * through textContent or attribute values, never as markup.
 */
import type { ChosenStatus, ConnectionState, Reason, Status } from '../../client/src/index.ts';
import { type PageEntry, sortRoster } from '#local/page/roster.ts';
import { type AgentTotals, duration, periodEnd, type ReportDay, type ReportQuery, totalsByAgent } from '#local/page/reports.ts';
import type { DemoSignIn } from '#local/page/session.ts';
import { type AwayReason, parsePickerValue, pickerOptions, pickerValue, reasonLabel } from '#local/page/supervisor.ts';

type Child = Node | string | null | undefined | false;

/** A tiny element builder: attributes by setAttribute, children as nodes or text. */
function h(tag: string, attributes: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/** Up to two letters: the first of the first and last words of the name, else of the id. */
export function initials(name: string, userId: string): string {
  const words = name.trim().split(/[\s._@-]+/u).filter(Boolean);
  const first = words[0];
  const last = words.length > 1 ? words[words.length - 1] : undefined;
  const letters = first ? [...first][0]! + (last ? [...last][0]! : '') : [...userId].slice(0, 2).join('');
  return letters.toLocaleUpperCase();
}

/** A stable colour per user, so avatars tell people apart at a glance. */
function avatarHue(userId: string): number {
  let hash = 0;
  for (const char of userId) hash = (hash * 31 + char.charCodeAt(0)) % 360;
  return hash;
}

const STATUS_LABEL: Record<Status, string> = { online: 'Online', away: 'Away', offline: 'Offline' };

const OFFLINE_REASON: Partial<Record<Reason, string>> = {
  idle: 'idle',
  disconnect: 'disconnected',
  timeout: 'timeout',
  logout: 'logged out',
};

function offlineReason(reason: Reason | null): string | undefined {
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

function statusDot(status: Status, label: string, testId?: string): HTMLElement {
  return h('span', { class: 'dot', role: 'img', 'aria-label': label, title: label, 'data-status': status, 'data-testid': testId });
}

function avatar(entry: { userId: string; name: string; status: Status }, dotLabel: string, dotTestId?: string): HTMLElement {
  const element = h('span', { class: 'avatar' }, h('span', { 'aria-hidden': 'true' }, initials(entry.name, entry.userId)), statusDot(entry.status, dotLabel, dotTestId));
  element.style.background = `hsl(${avatarHue(entry.userId)} 45% 42%)`;
  return element;
}

// ---------------------------------------------------------------------------------------------
// Sign-in

export interface SignInHandlers {
  devTokens: boolean;
  /** Shown above the forms: why the user is back here (refused token, logged out...). */
  message?: string | undefined;
  onDemo(request: DemoSignIn): Promise<void>;
  onToken(token: string): Promise<void>;
}

export function renderSignIn(root: HTMLElement, handlers: SignInHandlers): void {
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'sign-in-error' });
  const showError = (message: string | undefined) => {
    error.textContent = message ?? '';
    error.hidden = !message;
  };
  showError(handlers.message);

  const submitWith = (form: HTMLFormElement, run: () => Promise<void>) => {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const buttons = form.querySelectorAll('button');
      for (const button of buttons) button.disabled = true;
      run()
        .catch((failure: unknown) => showError(failure instanceof Error ? failure.message : String(failure)))
        .finally(() => {
          for (const button of buttons) button.disabled = false;
        });
    });
  };

  const field = (label: string, name: string, attributes: Record<string, string | boolean>, hint?: string) =>
    h('label', {}, h('span', {}, label, hint ? h('small', {}, ` ${hint}`) : null), h('input', { name, 'data-testid': `sign-in-${name}`, ...attributes }));

  let demoForm: HTMLFormElement | null = null;
  if (handlers.devTokens) {
    demoForm = h(
      'form',
      { 'aria-label': 'Sign in as a demo user', 'data-testid': 'demo-sign-in' },
      field('Workspace', 'workspace', { value: 'demo', required: true, autocomplete: 'off' }),
      field('User id', 'user', { required: true, autocomplete: 'off', placeholder: 'alice' }),
      field('Display name', 'name', { autocomplete: 'off', placeholder: 'Alice Martin' }),
      field('Teams', 'teams', { autocomplete: 'off', placeholder: 'sales, support' }, '(optional, comma-separated)'),
      h(
        'label',
        { class: 'check' },
        h('input', { type: 'checkbox', name: 'admin', 'data-testid': 'sign-in-admin' }),
        h('span', {}, "Supervisor (admin): sees everyone in Reports, sets teammates' status"),
      ),
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'sign-in-submit' }, 'Sign in'),
    ) as HTMLFormElement;
    const form = demoForm;
    submitWith(form, () => {
      const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
      const teams = value('teams').split(/[\s,]+/u).filter(Boolean);
      const admin = (form.elements.namedItem('admin') as HTMLInputElement).checked;
      return handlers.onDemo({
        workspace: value('workspace'),
        user: value('user'),
        ...(value('name') ? { name: value('name') } : {}),
        ...(teams.length > 0 ? { teams } : {}),
        ...(admin ? { role: 'admin' as const } : {}),
      });
    });
  }

  const tokenForm = h(
    'form',
    { 'aria-label': 'Sign in with a token', 'data-testid': 'token-sign-in' },
    h('label', {}, h('span', {}, 'Token ', h('small', {}, '(from npm run token or your identity provider)')), h('textarea', { name: 'token', required: true, spellcheck: 'false', 'data-testid': 'sign-in-token' })),
    h('button', { type: 'submit' }, 'Sign in with token'),
  ) as HTMLFormElement;
  submitWith(tokenForm, () => handlers.onToken((tokenForm.elements.namedItem('token') as HTMLTextAreaElement).value));

  root.replaceChildren(
    h(
      'section',
      { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
      h('h1', { id: 'sign-in-title' }, 'Team presence'),
      h('p', { class: 'lead' }, handlers.devTokens ? 'Sign in as a demo agent of a workspace.' : 'Paste a token to sign in.'),
      error,
      demoForm,
      demoForm ? h('details', {}, h('summary', {}, 'Paste a token instead'), tokenForm) : tokenForm,
    ),
  );
  (root.querySelector<HTMLElement>('input[name="user"]') ?? root.querySelector<HTMLElement>('textarea'))?.focus();
}

// ---------------------------------------------------------------------------------------------
// The signed-in page

export interface AppHandlers {
  workspace: string;
  userId: string;
  name: string;
  /** The signed-in user is an admin: each teammate's row gets Set online, Set away and Sign out. */
  admin: boolean;
  onStatus(status: ChosenStatus, reason?: string): void;
  /** Show one of the agent's teams (and themself), or everyone with null. */
  onScope(teams: string[] | null): void;
  onLogout(): void;
  /** The status report of these days (the page's token decides whose rows). */
  loadReport(query: ReportQuery): Promise<{ timezone: string; days: ReportDay[] }>;
  downloadCsv(query: ReportQuery): Promise<void>;
  /** An admin sets a teammate's status; rejects with the server's message. */
  setAgentStatus(userId: string, status: ChosenStatus, reason?: string): Promise<void>;
  /** An admin signs a teammate out everywhere; rejects with the server's message. */
  signOutAgent(userId: string): Promise<void>;
}

export interface AppView {
  update(roster: ReadonlyMap<string, PageEntry>, state: ConnectionState): void;
  /** The workspace's away reasons: the picker's choices, the rows' labels; shown at the next update. */
  setAwayReasons(reasons: readonly AwayReason[]): void;
  /** A short-lived message (server errors). */
  toast(message: string): void;
}

export function renderApp(root: HTMLElement, handlers: AppHandlers): AppView {
  // Online, Away, and Away with each of the workspace's reasons; filled in at each update.
  const picker = h('select', { id: 'status-picker', name: 'status', 'data-testid': 'status-picker' }) as HTMLSelectElement;
  let pickerChoices = '';
  picker.addEventListener('change', () => {
    const choice = parsePickerValue(picker.value);
    handlers.onStatus(choice.status, choice.reason);
  });
  let reasons: readonly AwayReason[] = [];

  // Which people to follow: everyone, or one of the agent's own teams (a subscription, so the
  // page receives only that team's changes). Filled in from the agent's teams once known.
  const teamFilter = h('select', { id: 'team-filter', name: 'team', 'data-testid': 'team-filter' }) as HTMLSelectElement;
  const teamFilterLabel = h('label', { for: 'team-filter' }, 'Show');
  let teamOptions = '';
  teamFilter.addEventListener('change', () => handlers.onScope(teamFilter.value === '' ? null : [teamFilter.value]));

  const reports = renderReports(handlers);
  const reportsToggle = h('button', { type: 'button', 'data-testid': 'reports-toggle', 'aria-pressed': 'false' }, 'Reports');
  const logout = h('button', { type: 'button', 'data-testid': 'logout' }, 'Log out');
  logout.addEventListener('click', () => handlers.onLogout());

  const me = h('div', { class: 'me', 'data-testid': 'self-indicator' });
  const banner = h('div', { class: 'banner', role: 'status', 'aria-live': 'polite', 'data-testid': 'offline-banner' });
  const toastRegion = h('div', { class: 'toast', role: 'alert', 'data-testid': 'toast' });
  const summary = h('p', { class: 'summary', 'data-testid': 'roster-summary' });
  const list = h('ul', { class: 'roster', 'aria-labelledby': 'roster-title', 'data-testid': 'roster' });

  const teamView = h('main', {}, h('h2', { id: 'roster-title' }, 'Team'), summary, list);
  reportsToggle.addEventListener('click', () => {
    const showing = reports.element.hidden;
    reports.element.hidden = !showing;
    teamView.hidden = showing;
    reportsToggle.setAttribute('aria-pressed', String(showing));
    reportsToggle.textContent = showing ? 'Team' : 'Reports';
    if (showing) reports.load();
  });

  root.replaceChildren(
    h(
      'header',
      { class: 'topbar' },
      h('div', { class: 'brand' }, 'Team presence', h('span', { class: 'workspace' }, handlers.workspace)),
      h('div', { class: 'spacer' }),
      teamFilterLabel,
      teamFilter,
      h('label', { for: 'status-picker' }, 'Status'),
      picker,
      reportsToggle,
      logout,
      me,
    ),
    banner,
    teamView,
    reports.element,
    toastRegion,
  );

  let chosen = pickerValue('online');
  let chosenReason: string | undefined;
  let everOpen = false;
  let toastTimer: ReturnType<typeof setTimeout> | undefined;
  /** The rows by user id, kept across updates so an admin's controls keep their choice and focus. */
  const rows = new Map<string, Row>();

  return {
    update(roster, state) {
      if (state === 'open') everOpen = true;
      const self = roster.get(handlers.userId);
      if (self && self.status !== 'offline') {
        chosen = pickerValue(self.status, self.awayReason);
        chosenReason = self.awayReason;
      }
      // Rebuilt only when the choices change: a select rebuilt while open would close under the user.
      const options = pickerOptions(reasons, chosenReason);
      const choices = JSON.stringify(options);
      if (choices !== pickerChoices) {
        pickerChoices = choices;
        picker.replaceChildren(...options.map((option) => h('option', { value: option.value }, option.label)));
      }
      picker.value = chosen;
      picker.disabled = state !== 'open';

      const myTeams = self?.teams ?? [];
      if (myTeams.join('\n') !== teamOptions) {
        teamOptions = myTeams.join('\n');
        const selected = teamFilter.value;
        teamFilter.replaceChildren(
          h('option', { value: '' }, 'Everyone'),
          ...myTeams.map((team) => h('option', { value: team }, `Team ${team}`)),
        );
        teamFilter.value = myTeams.includes(selected) ? selected : '';
      }
      teamFilter.hidden = teamFilterLabel.hidden = myTeams.length === 0;
      teamFilter.disabled = state !== 'open';

      // The user's own indicator, top right.
      const selfStatus: Status = state === 'open' ? (self?.status ?? 'online') : 'offline';
      const selfName = self?.name ?? handlers.name;
      me.dataset.status = selfStatus;
      me.replaceChildren(
        h('span', { class: 'me-name' }, selfName),
        avatar({ userId: handlers.userId, name: selfName, status: selfStatus }, `Your status: ${STATUS_LABEL[selfStatus]}`, 'self-dot'),
      );

      // The banner: only when this user is offline, with the reason.
      let bannerText = '';
      if (everOpen && state !== 'open') bannerText = 'You are offline: disconnected. Reconnecting…';
      else if (state === 'open' && self?.status === 'offline') {
        const reason = offlineReason(self.reason);
        bannerText = `You are offline${reason ? `: ${reason}` : ''}.`;
        if (self.reason === 'idle') bannerText += ' Move the mouse or press a key to come back.';
      }
      if (banner.textContent !== bannerText) banner.textContent = bannerText;

      // The roster.
      const entries = sortRoster(roster.values());
      reports.knowTeams(entries.flatMap((entry) => entry.teams));
      const count = (status: Status) => entries.filter((entry) => entry.status === status).length;
      const counts = `${entries.length} ${entries.length === 1 ? 'person' : 'people'}: ${count('online')} online, ${count('away')} away, ${count('offline')} offline`;
      if (entries.length === 0) summary.textContent = state === 'open' ? 'Loading the roster…' : 'Connecting…';
      else summary.textContent = state === 'open' ? counts : `Last known, while reconnecting: ${counts}`;
      // While disconnected the roster is what we last heard, not live: say so and dim it.
      list.toggleAttribute('data-stale', state !== 'open');
      const context: StatusContext = { viewerId: handlers.userId, reasons, nameOf: (userId) => roster.get(userId)?.name ?? userId };
      const shown = entries.map((entry) => {
        let row = rows.get(entry.userId);
        if (!row) {
          const isSelf = entry.userId === handlers.userId;
          row = { element: h('li', { 'data-testid': `roster-row-${entry.userId}`, 'data-self': isSelf ? 'true' : undefined }), parts: [] };
          if (handlers.admin && !isSelf) {
            row.controls = supervisorControls(entry.userId, handlers);
            row.element.append(row.controls.element, row.controls.error);
          }
          rows.set(entry.userId, row);
        }
        fillRow(row, entry, entry.userId === handlers.userId, context);
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
    setAwayReasons(next) {
      reasons = [...next];
    },
    toast(message) {
      toastRegion.textContent = message;
      clearTimeout(toastTimer);
      toastTimer = setTimeout(() => (toastRegion.textContent = ''), 4000);
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

interface SupervisorControls {
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
function supervisorControls(userId: string, handlers: AppHandlers): SupervisorControls {
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

// ---------------------------------------------------------------------------------------------
// Reports

const SEGMENTS: Status[] = ['online', 'away', 'offline'];

/** Today's date in the browser's zone, YYYY-MM-DD: the report's default day. */
function today(): string {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
}

function reportRow(total: AgentTotals): HTMLElement {
  const seconds = total.online + total.away + total.offline;
  const label = SEGMENTS.map((status) => `${STATUS_LABEL[status]} ${duration(total[status])}`).join(', ');
  const bar = h('div', { class: 'bar', role: 'img', 'aria-label': label, 'data-testid': `report-bar-${total.userId}` });
  for (const status of SEGMENTS) {
    const segment = h('span', { class: 'segment', 'data-status': status, 'data-seconds': String(total[status]), 'data-testid': `report-${status}-${total.userId}` });
    segment.style.width = `${seconds > 0 ? (100 * total[status]) / seconds : 0}%`;
    bar.append(segment);
  }
  return h(
    'li',
    { 'data-testid': `report-row-${total.userId}` },
    h('div', { class: 'who' }, h('div', { class: 'name' }, total.name), h('div', { class: 'user-id' }, total.userId)),
    bar,
    h('div', { class: 'totals', 'data-testid': `report-totals-${total.userId}` }, label),
  );
}

function renderReports(handlers: AppHandlers): { element: HTMLElement; load(): void; knowTeams(teams: string[]): void } {
  const period = h('select', { id: 'report-period', 'data-testid': 'report-period' }, h('option', { value: 'day' }, 'Day'), h('option', { value: 'week' }, 'Week from')) as HTMLSelectElement;
  const date = h('input', { id: 'report-date', type: 'date', value: today(), required: true, 'data-testid': 'report-date' }) as HTMLInputElement;
  const team = h('select', { id: 'report-team', 'data-testid': 'report-team' }, h('option', { value: '' }, 'Everyone')) as HTMLSelectElement;
  const csv = h('button', { type: 'button', 'data-testid': 'report-csv' }, 'Download CSV');
  const caption = h('p', { class: 'summary', 'data-testid': 'report-summary' });
  const list = h('ul', { class: 'report', 'data-testid': 'report' });
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'report-error', hidden: true });
  const known = new Set<string>();

  const query = (): ReportQuery => ({ from: date.value, to: periodEnd(date.value, period.value as 'day' | 'week'), ...(team.value ? { team: team.value } : {}) });
  const show = (message: string | undefined) => {
    error.textContent = message ?? '';
    error.hidden = !message;
  };
  let asked = 0;
  const load = () => {
    if (!date.value) return;
    const asking = ++asked;
    const q = query();
    caption.textContent = 'Loading…';
    handlers.loadReport(q).then(
      (report) => {
        if (asking !== asked) return;
        show(undefined);
        const totals = totalsByAgent(report.days);
        caption.textContent = `${q.from === q.to ? q.from : `${q.from} to ${q.to}`} (${report.timezone}): ${totals.length} ${totals.length === 1 ? 'person' : 'people'}`;
        list.replaceChildren(...totals.map(reportRow));
      },
      (failure: unknown) => {
        if (asking !== asked) return;
        caption.textContent = '';
        list.replaceChildren();
        show(failure instanceof Error ? failure.message : String(failure));
      },
    );
  };
  for (const control of [period, date, team]) control.addEventListener('change', load);
  csv.addEventListener('click', () => {
    handlers.downloadCsv(query()).catch((failure: unknown) => show(failure instanceof Error ? failure.message : String(failure)));
  });

  const element = h(
    'main',
    { class: 'reports', hidden: true, 'data-testid': 'reports' },
    h('h2', {}, 'Time in status'),
    h(
      'div',
      { class: 'report-controls' },
      h('label', { for: 'report-period' }, 'Period'),
      period,
      date,
      h('label', { for: 'report-team' }, 'Team'),
      team,
      csv,
    ),
    error,
    caption,
    list,
    h('p', { class: 'legend' }, ...SEGMENTS.map((status) => h('span', { class: 'key', 'data-status': status }, STATUS_LABEL[status]))),
  );
  return {
    element,
    load,
    knowTeams(teams) {
      const fresh = teams.filter((name) => !known.has(name));
      if (fresh.length === 0) return;
      for (const name of fresh) known.add(name);
      const selected = team.value;
      team.replaceChildren(h('option', { value: '' }, 'Everyone'), ...[...known].sort().map((name) => h('option', { value: name }, `Team ${name}`)));
      team.value = selected;
    },
  };
}
