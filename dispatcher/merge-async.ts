/**
 * Interleaves several async iterables in arrival order (one per platform, so
 * a slow Windows build does not hold back the Linux lines). Finishes when all
 * do; the first error ends the merge.
 */
export async function* mergeAsync<T>(sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const pull = (index: number) => pending.set(index, iterators[index]!.next().then((result) => ({ index, result })));
  iterators.forEach((_, index) => pull(index));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
      } else {
        pull(index);
        yield result.value;
      }
    }
  } finally {
    // A consumer that stops early leaves one pull in flight per source; what
    // it fails with no longer matters, but unheard it is an unhandled rejection.
    for (const inFlight of pending.values()) inFlight.catch(() => undefined);
    await Promise.all(iterators.map((it) => it.return?.()));
  }
}
