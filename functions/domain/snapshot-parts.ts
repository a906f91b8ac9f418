/**
 * Splitting a snapshot into parts that each fit well under API Gateway's 128 KB message limit.
 * Pure: sizes are measured on the JSON each user entry adds to a part.
 */

/**
 * The most bytes of user entries one part carries (UTF-8 JSON). The envelope (type, ids, part
 * numbers, scope of at most 50 team ids) adds under 8 KB, so a part stays under 72 KB.
 */
export const SNAPSHOT_PART_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/**
 * Users in order, cut into consecutive parts of at most `maxBytes` of entries each (a single
 * entry larger than that still gets a part of its own). Always at least one part, maybe empty.
 */
export function splitIntoParts<T>(users: readonly T[], maxBytes: number = SNAPSHOT_PART_BYTES): T[][] {
  const parts: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const user of users) {
    // +1 for the comma between entries.
    const size = encoder.encode(JSON.stringify(user)).length + 1;
    if (current.length > 0 && bytes + size > maxBytes) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    current.push(user);
    bytes += size;
  }
  parts.push(current);
  return parts;
}
