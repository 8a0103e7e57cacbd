/**
 * Per-key serialisation inside one process. Concurrent read-modify-write calls on the same key (one basket,
 * one order) run one after the other here, so compare-and-set conflicts only happen between processes: a burst
 * of N writes to one basket costs N writes, not O(N²) failed attempts. Correctness never depends on it; the
 * store's compare-and-set (or row lock) still guards against other processes.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(task, task);
    // The tail never rejects, so the next caller starts whatever this one's outcome.
    const tail = current.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return current;
  }
}
