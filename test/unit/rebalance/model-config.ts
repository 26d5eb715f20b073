/**
 * The migration model's config store: a real {@link MemoryConfigStore} behind a read cache.
 *
 * Every write (publish, journal, lock) goes to the MemoryConfigStore, so its validation, its
 * compare-and-set and its lock leases are the ones under test. Reads are served from the value the
 * store returned right after the last write: the store copies values through EJSON both ways, and
 * those round trips were a quarter of the model's time when every router refresh and every invariant
 * check paid one. A read still hands out a copy the caller owns (the migrator edits the journal it
 * read before writing it back), made with `structuredClone`, which is exact for the plain data the
 * model publishes (an EJSON-normalised value has no `undefined` fields and no BSON classes).
 */
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import type { ConfigStore, LockInfo, RoutingState } from '../../../src/config-store/types.js';

/** A {@link ConfigStore} over a MemoryConfigStore whose reads skip the EJSON round trip. */
export class ModelConfigStore implements ConfigStore {
  readonly inner: MemoryConfigStore;
  #state: RoutingState | null = null;
  readonly #journal = new Map<string, Record<string, unknown> | null>();

  constructor(clock: () => number) {
    this.inner = new MemoryConfigStore({ clock });
  }

  /** The published state without a copy, for the invariant checks (which never change it). */
  peek(): RoutingState | null {
    return this.#state;
  }

  async load(): Promise<RoutingState | null> {
    return this.#state === null ? null : structuredClone(this.#state);
  }

  async compareAndSet(expectedEpoch: number | null, next: RoutingState): Promise<void> {
    await this.inner.compareAndSet(expectedEpoch, next);
    this.#state = await this.inner.load();
  }

  acquireLock(owner: string, leaseMs: number): Promise<LockInfo> {
    return this.inner.acquireLock(owner, leaseMs);
  }

  releaseLock(owner: string): Promise<void> {
    return this.inner.releaseLock(owner);
  }

  readLock(): Promise<LockInfo | null> {
    return this.inner.readLock();
  }

  async readJournal(key: string): Promise<Record<string, unknown> | null> {
    if (!this.#journal.has(key)) this.#journal.set(key, await this.inner.readJournal(key));
    const value = this.#journal.get(key) ?? null;
    return value === null ? null : structuredClone(value);
  }

  async writeJournal(key: string, value: Record<string, unknown>): Promise<void> {
    await this.inner.writeJournal(key, value);
    // Invalidate rather than read back: a journal is read far less often than it is written.
    this.#journal.delete(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
