/**
 * The reports view of the team page: time in each status per person for a day or a week, as
 * bars and totals, optionally for one team, and the same report as a CSV download.
 */
import type { Status } from '../../client/src/index.ts';
import { h, STATUS_LABEL } from '#local/page/dom.ts';
import { type AgentTotals, duration, periodEnd, type ReportDay, type ReportQuery, totalsByAgent } from '#local/page/reports.ts';

/** The HTTP API's calls the view makes. */
export interface ReportActions {
  /** The status report of these days (the page's token decides whose rows). */
  loadReport(query: ReportQuery): Promise<{ timezone: string; days: ReportDay[] }>;
  downloadCsv(query: ReportQuery): Promise<void>;
}

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

/** The reports view: hidden until shown, loaded when shown and when a control changes. */
export interface ReportsView {
  element: HTMLElement;
  load(): void;
  /** Teams seen in the roster: the team filter's choices. */
  knowTeams(teams: string[]): void;
}

export function renderReports(handlers: ReportActions): ReportsView {
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
