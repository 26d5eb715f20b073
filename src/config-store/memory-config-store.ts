import type { ConfigStore, LockInfo } from './types.js';
import type { RoutingState } from '../router/routing-state.js';
import {
  assertCasArguments,
  assertJournalKey,
  assertJournalValue,
  assertLockArguments,
  cloneValue,
  assertLatestGeneration,
  nextLock,
  staleEpochError,
} from './state.js';
import { systemClock, type Clock } from '../clock.js';
import { optionalObject } from '../arguments.js';

/** Options of {@link MemoryConfigStore}. */
export interface MemoryConfigStoreOptions {
  /** Time source of lock leases; their times are `wall()` time, which other processes read. */
  readonly clock?: Clock;
  /** A state to start from, as if it had been published. */
  readonly initial?: RoutingState;
}

/**
 * A config store held in this process: for demos, simulations and tests. Same semantics as the file
 * and MongoDB stores (one contract test suite covers all three), but nothing survives the process.
 * Values are copied in and out, so callers never share objects with the store.
 */
export class MemoryConfigStore implements ConfigStore {
  readonly #clock: Clock;
  #state: RoutingState | null = null;
  #lock: LockInfo | null = null;
  /** The last lock generation issued; kept across releases, so generations never repeat. */
  #generation = 0;
  readonly #journal = new Map<string, Record<string, unknown>>();
  #closed = false;

  constructor(options: MemoryConfigStoreOptions = {}) {
    optionalObject(options, 'new MemoryConfigStore(options): options');
    this.#clock = options.clock ?? systemClock;
    if (options.initial !== undefined) {
      assertCasArguments(null, options.initial);
      this.#state = cloneValue(options.initial);
    }
  }

  async load(): Promise<RoutingState | null> {
    return this.#state === null ? null : cloneValue(this.#state);
  }

  async compareAndSet(expectedEpoch: number | null, next: RoutingState): Promise<void> {
    assertCasArguments(expectedEpoch, next);
    const actual = this.#state?.epoch ?? null;
    if (actual !== expectedEpoch) throw staleEpochError(expectedEpoch, actual);
    this.#state = cloneValue(next);
  }

  async acquireLock(owner: string, leaseMs: number, generation?: number): Promise<LockInfo> {
    assertLockArguments(owner, leaseMs);
    this.#lock = nextLock(this.#lock, this.#generation, owner, leaseMs, this.#clock.wall(), generation);
    this.#generation = this.#lock.generation;
    return { ...this.#lock };
  }

  async releaseLock(owner: string): Promise<void> {
    if (this.#lock?.owner === owner) this.#lock = null;
  }

  async readLock(): Promise<LockInfo | null> {
    const held = this.#lock;
    return held !== null && held.expiresAt > this.#clock.wall() ? { ...held } : null;
  }

  async readJournal(key: string): Promise<Record<string, unknown> | null> {
    assertJournalKey(key);
    const value = this.#journal.get(key);
    return value === undefined ? null : cloneValue(value);
  }

  async writeJournal(key: string, value: Record<string, unknown>, generation?: number): Promise<void> {
    assertJournalKey(key);
    assertJournalValue(value);
    assertLatestGeneration(generation, this.#generation);
    this.#journal.set(key, cloneValue(value));
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** True once {@link close} was called (nothing else changes: the data stays readable). */
  get closed(): boolean {
    return this.#closed;
  }
}
