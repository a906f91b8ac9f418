/** Agents judged at once by a sweep or a settings rollout: each is a read and maybe a write. */
export const AGENTS_IN_FLIGHT = 8;

/** Runs `work` over `items` with at most `limit` in flight. Never rejects: `work` handles its errors. */
export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}
