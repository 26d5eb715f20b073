/**
 * Application writers for the demo: each inserts, updates, deletes and reads its own keys through a
 * `ShardedCollection` while a migration runs, and records what the collection acknowledged, so the
 * end state can be checked key by key. Writers own disjoint keys, so the expected end state of a
 * key is exactly the last acknowledged write to it; an operation that failed leaves its key
 * "uncertain" (before or after are both acceptable), as it would for any client.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ShardedCollection } from '../collection/sharded-collection.js';
import { errorCodeOf } from './errors.js';
import { LiveKeys } from './live-keys.js';

/** A demo document. `n` is unique per write, so the latest acknowledged write is recognisable. */
export interface DemoDoc {
  _id: string;
  n: number;
  owner: number;
  note: string;
}

/** What a key should look like at the end: a value, or deleted (`null`). */
export type Expected = number | null;

/** Counters of one writer (and, summed, of all). */
export interface WriterCounters {
  inserts: number;
  updates: number;
  deletes: number;
  reads: number;
  /** Operations that threw: not acknowledged, their key's outcome is left open. */
  failed: number;
  /** Reads that did not return the last acknowledged write of the key (must stay 0). */
  staleReads: number;
  /** Error codes of failed operations, counted. */
  errors: Record<string, number>;
}

/** A deterministic PRNG (mulberry32): the same seed gives the same operation mix. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An empty counter set. */
export function emptyWriterCounters(): WriterCounters {
  return { inserts: 0, updates: 0, deletes: 0, reads: 0, failed: 0, staleReads: 0, errors: {} };
}

/** Sum of several writers' counters. */
export function sumCounters(all: readonly WriterCounters[]): WriterCounters {
  const total = emptyWriterCounters();
  for (const c of all) {
    total.inserts += c.inserts;
    total.updates += c.updates;
    total.deletes += c.deletes;
    total.reads += c.reads;
    total.failed += c.failed;
    total.staleReads += c.staleReads;
    for (const [code, n] of Object.entries(c.errors)) total.errors[code] = (total.errors[code] ?? 0) + n;
  }
  return total;
}

/**
 * One application writer. Keys it owns: the seeded keys it is given plus `w<index>:<k>` keys it
 * inserts itself. It keeps the expected state of each key and the set of keys whose outcome is
 * open because an operation on them failed.
 */
export class DemoWriter {
  readonly index: number;
  readonly counters: WriterCounters = emptyWriterCounters();
  /** Expected state per owned key after the last acknowledged write. */
  readonly expected = new Map<string, Expected>();
  /** Keys whose last operation failed: either state before or after is acceptable. */
  readonly uncertain = new Map<string, Expected[]>();
  readonly #coll: ShardedCollection<DemoDoc>;
  readonly #random: () => number;
  /** Live keys, for picking update/delete/read targets in O(1). */
  readonly #live = new LiveKeys();
  #next = 0;
  #serial = 0;

  constructor(index: number, coll: ShardedCollection<DemoDoc>, seed: number) {
    this.index = index;
    this.#coll = coll;
    this.#random = prng(seed * 7919 + index + 1);
  }

  /** Operations its collection sent again after a shard said "moved" (stale router turned away). */
  get redirects(): number {
    return this.#coll.redirects;
  }

  /** Register a key loaded before the writer starts (value `n`). */
  adopt(id: string, n: number): void {
    this.expected.set(id, n);
    this.#live.add(id);
  }

  /**
   * Run until `stop()` returns true: 25% inserts, 40% updates, 15% deletes, 20% reads. Yields to
   * the event loop after every operation so timers (lease refreshes, the migrator's waits) run.
   */
  async run(stop: () => boolean, pauseMs = 0): Promise<void> {
    while (!stop()) {
      await this.step();
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      else await yieldToLoop();
    }
  }

  /** One operation. */
  async step(): Promise<void> {
    const r = this.#random();
    if (r < 0.25 || this.#live.size === 0) await this.#insert();
    else if (r < 0.65) await this.#update();
    else if (r < 0.8) await this.#delete();
    else await this.#read();
  }

  #value(): number {
    // Unique across writers and operations: writer index in the low digits.
    this.#serial += 1;
    return -(this.#serial * 1000 + this.index);
  }

  #pick(): string {
    return this.#live.pick(this.#random)!;
  }

  async #insert(): Promise<void> {
    const id = `w${this.index}:${this.#next++}`;
    const n = this.#value();
    await this.#attempt(id, n, async () => {
      await this.#coll.insertOne({ _id: id, n, owner: this.index, note: 'inserted during the demo' });
      this.counters.inserts += 1;
    });
  }

  async #update(): Promise<void> {
    const id = this.#pick();
    const n = this.#value();
    await this.#attempt(id, n, async () => {
      const result = await this.#coll.updateOne({ _id: id }, { $set: { n } });
      if (result.matchedCount !== 1) throw new Error(`update of live key ${id} matched ${result.matchedCount} documents`);
      this.counters.updates += 1;
    });
  }

  async #delete(): Promise<void> {
    const id = this.#pick();
    await this.#attempt(id, null, async () => {
      const result = await this.#coll.deleteOne({ _id: id });
      if (result.deletedCount !== 1) throw new Error(`delete of live key ${id} deleted ${result.deletedCount} documents`);
      this.counters.deletes += 1;
    });
  }

  async #read(): Promise<void> {
    const id = this.#pick();
    if (this.uncertain.has(id)) return;
    try {
      const doc = await this.#coll.findOne({ _id: id });
      this.counters.reads += 1;
      if ((doc?.n ?? null) !== this.expected.get(id)) this.counters.staleReads += 1;
    } catch (error) {
      this.#failed(error);
    }
  }

  /**
   * Apply a write; on success it is acknowledged and becomes the key's expected state; on failure
   * the key may hold either state, and stays out of later picks so no later write depends on it.
   */
  async #attempt(id: string, next: Expected, write: () => Promise<void>): Promise<void> {
    const before = this.expected.has(id) ? this.expected.get(id)! : null;
    try {
      await write();
    } catch (error) {
      this.#failed(error);
      this.uncertain.set(id, [before, next]);
      this.#live.delete(id);
      return;
    }
    this.expected.set(id, next);
    if (next === null) this.#live.delete(id);
    else this.#live.add(id);
  }

  #failed(error: unknown): void {
    this.counters.failed += 1;
    const code = errorCodeOf(error);
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
  }

}
