/**
 * The migration model's config store: a real {@link MemoryConfigStore} behind a read cache.
 *
 * Publishes (compare-and-set) and locks go to the MemoryConfigStore, so its validation, its
 * compare-and-set and its lock leases are the ones under test; the state is then read back once and
 * served from that copy, frozen. The store copies values through EJSON both ways, and those round trips were
 * a third of the model's time when every router refresh, invariant check and journal checkpoint paid
 * one. Journal entries are validated with the store's own checks and kept here, copied in and out with
 * {@link plainCopy}, which gives what the EJSON round trip gives for plain data and falls back to it
 * for anything else. A journal read still hands out a copy the caller owns (the migrator edits the
 * journal it read before writing it back).
 */
import type { Clock } from '../../../src/clock.js';
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import { assertJournalKey, assertJournalValue, assertLatestGeneration, cloneValue } from '../../../src/config-store/state.js';
import type { ConfigStore, LockInfo } from '../../../src/config-store/types.js';
import type { RoutingState } from '../../../src/router/routing-state.js';

const NOT_PLAIN = Symbol('not plain');

function copyPlain(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') return value;
  if (depth > 64 || typeof value !== 'object') throw NOT_PLAIN;
  if (Array.isArray(value)) return value.map((v: unknown) => (v === undefined ? null : copyPlain(v, depth + 1)));
  if (Object.getPrototypeOf(value) !== Object.prototype) throw NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = copyPlain(v, depth + 1);
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * A deep copy equal to the config stores' EJSON round trip (`cloneValue`) for JSON-like data: fields
 * holding `undefined` dropped, `undefined` array slots as null. Anything else (dates, BSON values,
 * class instances, functions) takes the EJSON round trip itself.
 */
export function plainCopy<T>(value: T): T {
  try {
    return copyPlain(value, 0) as T;
  } catch (error) {
    if (error !== NOT_PLAIN) throw error;
    return cloneValue(value);
  }
}

/** A {@link ConfigStore} over a MemoryConfigStore whose reads skip the EJSON round trip. */
export class ModelConfigStore implements ConfigStore {
  readonly inner: MemoryConfigStore;
  #state: RoutingState | null = null;
  readonly #journal = new Map<string, Record<string, unknown>>();
  #generation = 0;

  constructor(clock: Clock) {
    this.inner = new MemoryConfigStore({ clock });
  }

  /** The published state, for the invariant checks. */
  peek(): RoutingState | null {
    return this.#state;
  }

  /**
   * The published state, deeply frozen and shared by every caller until the next publish: a router
   * that changed the state it was handed would throw instead of corrupting its view (a copy would
   * hide that), and the collections' per-state view cache then holds across refreshes.
   */
  async load(): Promise<RoutingState | null> {
    return this.#state;
  }

  async compareAndSet(expectedEpoch: number | null, next: RoutingState): Promise<void> {
    await this.inner.compareAndSet(expectedEpoch, next);
    const state = await this.inner.load();
    this.#state = state === null ? null : deepFreeze(state);
  }

  async acquireLock(owner: string, leaseMs: number, generation?: number): Promise<LockInfo> {
    const lock = await this.inner.acquireLock(owner, leaseMs, generation);
    // Every lock goes through here, so this is the last generation the inner store issued.
    this.#generation = Math.max(this.#generation, lock.generation);
    return lock;
  }

  releaseLock(owner: string): Promise<void> {
    return this.inner.releaseLock(owner);
  }

  readLock(): Promise<LockInfo | null> {
    return this.inner.readLock();
  }

  async readJournal(key: string): Promise<Record<string, unknown> | null> {
    assertJournalKey(key);
    const value = this.#journal.get(key);
    return value === undefined ? null : plainCopy(value);
  }

  async writeJournal(key: string, value: Record<string, unknown>, generation?: number): Promise<void> {
    assertJournalKey(key);
    assertJournalValue(value);
    assertLatestGeneration(generation, this.#generation);
    this.#journal.set(key, plainCopy(value));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
