/**
 * Serialises async work per key within this process. The local store uses it so that two commits
 * (or a commit and a delete) of the same object never interleave their rename/unlink steps, which
 * would otherwise leak a data file or delete the wrong one.
 */
export class KeyedLock {
  #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release = (): void => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
