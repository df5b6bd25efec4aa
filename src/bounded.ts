/**
 * Maps `items` through `fn` with at most `limit` calls in flight (at least one), results in input
 * order: the one bounded fan-out for every layer (local listing reads, delete-by-prefix, multipart
 * copy), a leaf so that backends and core can both use it.
 *
 * The first failure stops new calls, aborts the signal the running calls were given, and is thrown
 * once they have all settled: nothing started here outlives the returned promise, so a caller that
 * cleans up after a failure (aborts a multipart upload, closes a store) never races a straggler.
 * An aborted `options.signal` does the same and throws its reason: the caller asked to stop, and the
 * calls that failed meanwhile most likely failed because of it.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<R[]> {
  const outer = options.signal;
  const stop = new AbortController();
  const onAbort = () => stop.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener("abort", onAbort, { once: true });

  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { err: unknown } | undefined;
  const lane = async () => {
    while (next < items.length && !stop.signal.aborted) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i, stop.signal);
      } catch (err) {
        failure ??= { err };
        stop.abort(err);
      }
    }
  };
  const lanes = Math.min(items.length, Math.max(1, Math.floor(limit) || 1));
  try {
    await Promise.all(Array.from({ length: lanes }, lane));
  } finally {
    outer?.removeEventListener("abort", onAbort);
  }
  if (outer?.aborted) throw outer.reason;
  if (failure) throw failure.err;
  return results;
}
