/**
 * The team page's Reports view: time online, away and offline per agent for a day or a week of
 * the workspace's zone, one stacked bar each, and the same rows as CSV. It reads the HTTP API's
 * status report with the page's token: an admin sees every agent, an agent only themself.
 */

import type { ReportRow } from '#app/report.ts';

/** A row of the status report (docs/PROTOCOL.md): whole seconds per status of one agent-day. */
export type ReportDay = ReportRow;

export interface ReportQuery {
  from: string;
  to: string;
  team?: string | undefined;
}

/** One agent's totals over the report's days. */
export interface AgentTotals {
  userId: string;
  name: string;
  online: number;
  away: number;
  offline: number;
}

/** Sums each agent's days, sorted by name then id. */
export function totalsByAgent(days: readonly ReportDay[]): AgentTotals[] {
  const totals = new Map<string, AgentTotals>();
  for (const day of days) {
    const total = totals.get(day.userId) ?? { userId: day.userId, name: day.name, online: 0, away: 0, offline: 0 };
    total.online += day.online;
    total.away += day.away;
    total.offline += day.offline;
    totals.set(day.userId, total);
  }
  return [...totals.values()].sort((a, b) => a.name.localeCompare(b.name) || a.userId.localeCompare(b.userId));
}

/** `Nh Mm` (or `Ms` under a minute), for the totals beside each bar. */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours > 0 ? `${hours}h ${String(minutes).padStart(2, '0')}m` : `${minutes}m`;
}

/** The last date of a period starting at `from`: the same day, or six days on for a week. */
export function periodEnd(from: string, period: 'day' | 'week'): string {
  if (period === 'day') return from;
  const [y, m, d] = from.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 6)).toISOString().slice(0, 10);
}

function reportPath(workspace: string, query: ReportQuery): string {
  const params = new URLSearchParams({ from: query.from, to: query.to });
  if (query.team) params.set('team', query.team);
  return `/workspaces/${encodeURIComponent(workspace)}/reports/status?${params}`;
}

/** The error a failed HTTP API call answered, with the server's message (for every call the page makes). */
export async function responseError(response: Response): Promise<Error> {
  const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
  return new Error(body?.error?.message ?? `The server answered ${response.status}.`);
}

export async function fetchReport(workspace: string, token: string, query: ReportQuery): Promise<{ timezone: string; days: ReportDay[] }> {
  const response = await fetch(reportPath(workspace, query), { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw await responseError(response);
  return (await response.json()) as { timezone: string; days: ReportDay[] };
}

/** Fetches the CSV route and hands it to the browser as a download. */
export async function downloadReportCsv(workspace: string, token: string, query: ReportQuery): Promise<void> {
  const response = await fetch(reportPath(workspace, query), { headers: { authorization: `Bearer ${token}`, accept: 'text/csv' } });
  if (!response.ok) throw await responseError(response);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = `presence-${query.from}-${query.to}${query.team ? `-${query.team}` : ''}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
