/**
 * Away reasons and supervisor controls on the team page: the workspace's away reasons (from its
 * settings, read with the page's token) as status picker choices and labels, and an admin's calls
 * to set a teammate's status or sign them out (docs/PROTOCOL.md, HTTP API). The server decides
 * who may: the page only offers the controls to an admin.
 */
import type { ChosenStatus } from '../../client/src/index.ts';
import type { SettingsView } from '#app/settings.ts';
import { responseError } from '#local/page/reports.ts';

/** One of the workspace's away reasons, as `GET /workspaces/{ws}/settings` lists them. */
export type AwayReason = SettingsView['awayReasons'][number];

/** One choice of the status picker: its value and what it shows. */
export interface PickerOption {
  value: string;
  label: string;
}

/** The picker value of a reason: `away:<id>` (ids have no spaces; the first colon splits). */
const AWAY_PREFIX = 'away:';

/** The reason's label, with its emoji in front when `withEmoji`; the id itself when the workspace has no such reason (any more). */
export function reasonLabel(reasons: readonly AwayReason[], id: string, withEmoji = false): string {
  const reason = reasons.find((candidate) => candidate.id === id);
  if (!reason) return id;
  return withEmoji && reason.emoji ? `${reason.emoji} ${reason.label}` : reason.label;
}

/** The picker value for a chosen status and reason. */
export function pickerValue(status: ChosenStatus, awayReason?: string): string {
  return status === 'away' && awayReason !== undefined ? `${AWAY_PREFIX}${awayReason}` : status;
}

/** What a picker value asks for: a status, and a reason with away. */
export function parsePickerValue(value: string): { status: ChosenStatus; reason?: string } {
  if (value.startsWith(AWAY_PREFIX) && value.length > AWAY_PREFIX.length) return { status: 'away', reason: value.slice(AWAY_PREFIX.length) };
  return { status: value === 'away' ? 'away' : 'online' };
}

/**
 * The picker's choices: Online, Away, then Away with each of the workspace's reasons
 * (`Away: 🍔 Lunch`). `current`, the user's own reason, gets a choice even when the workspace's
 * list (not loaded yet, or changed since) lacks it, so the picker can always show it.
 */
export function pickerOptions(reasons: readonly AwayReason[], current?: string): PickerOption[] {
  const options: PickerOption[] = [
    { value: 'online', label: 'Online' },
    { value: 'away', label: 'Away' },
    ...reasons.map((reason) => ({ value: pickerValue('away', reason.id), label: `Away: ${reasonLabel(reasons, reason.id, true)}` })),
  ];
  if (current !== undefined && !reasons.some((reason) => reason.id === current)) options.push({ value: pickerValue('away', current), label: `Away: ${current}` });
  return options;
}

function settingsPath(workspace: string): string {
  return `/workspaces/${encodeURIComponent(workspace)}/settings`;
}

function agentPath(workspace: string, userId: string, action: 'status' | 'logout'): string {
  return `/workspaces/${encodeURIComponent(workspace)}/agents/${encodeURIComponent(userId)}/${action}`;
}

/** The workspace's away reasons (any role may read the settings). */
export async function fetchAwayReasons(workspace: string, token: string): Promise<AwayReason[]> {
  const response = await fetch(settingsPath(workspace), { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw await responseError(response);
  const settings = (await response.json()) as Partial<SettingsView>;
  return Array.isArray(settings.awayReasons) ? settings.awayReasons : [];
}

/** An admin sets a teammate's status (and away reason); the change itself comes back as a `presence` message. */
export async function setAgentStatus(workspace: string, token: string, userId: string, status: ChosenStatus, awayReason?: string): Promise<void> {
  const response = await fetch(agentPath(workspace, userId, 'status'), {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(awayReason === undefined ? { status } : { status, awayReason }),
  });
  if (!response.ok) throw await responseError(response);
}

/** An admin signs a teammate out on every device. */
export async function signOutAgent(workspace: string, token: string, userId: string): Promise<void> {
  const response = await fetch(agentPath(workspace, userId, 'logout'), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw await responseError(response);
}
