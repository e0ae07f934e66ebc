/**
 * Transitions of one alert are delivered in the order they arrived (firing before its
 * resolved); different alerts go out side by side, so one slow receiver retrying one alert
 * does not hold up the rest of the batch.
 */

/** Items grouped by `keyOf`, groups in order of first appearance, items in arrival order. */
export function inArrivalOrderBy<T>(items: T[], keyOf: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()];
}

/**
 * Runs `fn` over each group's items one after the other, at most `limit` groups at a time.
 * Settles only when every started item has settled; rejects with the first error, after which
 * no new item starts.
 */
export async function runGroups<T>(groups: T[][], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < groups.length) {
      const group = groups[next++]!;
      for (const item of group) {
        if (failure) return;
        try {
          await fn(item);
        } catch (err) {
          failure ??= { err };
          return;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, groups.length)) }, worker));
  if (failure) throw failure.err;
}
