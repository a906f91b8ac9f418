/** Workspace time zones: IANA names, as the runtime's Intl knows them. */

export const DEFAULT_TIMEZONE = 'UTC';

/** The canonical spelling of an IANA time zone name, or undefined for a name Intl does not know. */
export function canonicalTimeZone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}
