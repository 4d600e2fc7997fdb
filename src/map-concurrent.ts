/**
 * The one worker pool: `fn` over `items` with at most `limit` calls in flight, results in input order.
 * `onDone(done, total)` is called as each item finishes (progress on a terminal). A call that throws
 * rejects the whole map, as `Promise.all` does; callers that want per-item failures catch inside `fn`.
 */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>, onDone?: (done: number, total: number) => void): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      results[i] = await fn(items[i]!, i);
      onDone?.(++done, items.length);
    }
  };
  const n = Math.max(1, Math.min(Number.isFinite(limit) ? Math.floor(limit) : 1, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}
