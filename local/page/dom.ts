/**
 * The team page's element builder and the pieces every view draws: status labels and avatars
 * with a status dot. Every piece of data (names, ids, teams, server messages) goes in through
 * textContent or attribute values, never as markup.
 */
import type { Status } from '../../client/src/index.ts';

type Child = Node | string | null | undefined | false;

/** A tiny element builder: attributes by setAttribute, children as nodes or text. */
export function h(tag: string, attributes: Record<string, string | boolean | undefined> = {}, ...children: Child[]): HTMLElement {
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

export const STATUS_LABEL: Record<Status, string> = { online: 'Online', away: 'Away', offline: 'Offline' };

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

function statusDot(status: Status, label: string, testId?: string): HTMLElement {
  return h('span', { class: 'dot', role: 'img', 'aria-label': label, title: label, 'data-status': status, 'data-testid': testId });
}

/** The user's initials on their colour, with a dot of their status labelled `dotLabel`. */
export function avatar(entry: { userId: string; name: string; status: Status }, dotLabel: string, dotTestId?: string): HTMLElement {
  const element = h('span', { class: 'avatar' }, h('span', { 'aria-hidden': 'true' }, initials(entry.name, entry.userId)), statusDot(entry.status, dotLabel, dotTestId));
  element.style.background = `hsl(${avatarHue(entry.userId)} 45% 42%)`;
  return element;
}
