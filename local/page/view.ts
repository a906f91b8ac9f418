/**
 * The signed-in team page: the top bar (status picker, team filter, Reports, Log out, the user's
 * own indicator), the offline banner, toasts, and the Team and Reports views it switches between.
 */
import type { ChosenStatus, ConnectionState, Status } from '../../client/src/index.ts';
import { avatar, h, STATUS_LABEL } from '#local/page/dom.ts';
import { type ReportActions, renderReports } from '#local/page/reports-view.ts';
import type { PageEntry } from '#local/page/roster.ts';
import { offlineReason, type RosterViewer, renderRoster } from '#local/page/roster-view.ts';
import { type AwayReason, parsePickerValue, pickerOptions, pickerValue } from '#local/page/supervisor.ts';

export interface AppHandlers extends RosterViewer, ReportActions {
  workspace: string;
  name: string;
  onStatus(status: ChosenStatus, reason?: string): void;
  /** Show one of the agent's teams (and themself), or everyone with null. */
  onScope(teams: string[] | null): void;
  onLogout(): void;
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
  const teamView = renderRoster(handlers);
  reportsToggle.addEventListener('click', () => {
    const showing = reports.element.hidden;
    reports.element.hidden = !showing;
    teamView.element.hidden = showing;
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
    teamView.element,
    reports.element,
    toastRegion,
  );

  let chosen = pickerValue('online');
  let chosenReason: string | undefined;
  let everOpen = false;
  let toastTimer: ReturnType<typeof setTimeout> | undefined;

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

      // The roster; the reports' team filter offers the teams it names.
      reports.knowTeams([...roster.values()].flatMap((entry) => entry.teams));
      teamView.update(roster, state, reasons);
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
