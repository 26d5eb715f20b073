/**
 * The live keys of a writer: what it may update, delete or read next. A swap-with-last array plus
 * an index makes adding, deleting and a uniform random pick O(1) however many keys come and go.
 */
export class LiveKeys {
  readonly #keys: string[] = [];
  readonly #index = new Map<string, number>();

  /** How many keys are live. */
  get size(): number {
    return this.#keys.length;
  }

  /** Add `id` (no-op when it is live already). */
  add(id: string): void {
    if (this.#index.has(id)) return;
    this.#index.set(id, this.#keys.length);
    this.#keys.push(id);
  }

  /** Remove `id` (no-op when it is not live). */
  delete(id: string): void {
    const at = this.#index.get(id);
    if (at === undefined) return;
    const last = this.#keys.pop()!;
    this.#index.delete(id);
    if (last !== id) {
      this.#keys[at] = last;
      this.#index.set(last, at);
    }
  }

  /** A uniformly random live key (`random` returns [0, 1)); undefined when none is live. */
  pick(random: () => number): string | undefined {
    return this.#keys.length === 0 ? undefined : this.#keys[Math.floor(random() * this.#keys.length)];
  }
}
