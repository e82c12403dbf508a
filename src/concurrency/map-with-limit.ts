/**
 * Runs an async job over items with at most `limit` in flight (a dataset's images, a model's chunks, a
 * rollout's boards): the one bounded worker pool, so none of them hand-rolls its own.
 */

/**
 * Calls `job(item, index)` for every item, at most `limit` (≥ 1) at a time, in item order as slots
 * free up; resolves with the results in item order. The first job to throw rejects the whole call
 * (jobs already running finish; no new ones start).
 */
export async function mapWithLimit<T, R>(
  items: readonly T[],
  limit: number,
  job: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await job(items[index], index);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
