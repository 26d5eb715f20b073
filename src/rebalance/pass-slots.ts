/**
 * The migrator's passes over ranges (counts, checksums, key listings: ADR 0003, "Passes over ranges")
 * at most `PASSES_PER_SHARD` at a time at any one shard. Pairs run at once and often share a shard
 * (every pair of an added shard writes it): verify's four pairs into a new shard ran eight passes
 * there at once (two per pair), and on a FerretDB shard of 45,000 documents a batch of one of them
 * then outlasted `opTimeoutMs` 1000, twice in one verify; each such timeout starts the pair's checks
 * over. Passes at one shard share its time anyway: one that waits for a slot finds the shard less
 * busy when its turn comes.
 */
import type { ShardStore } from '../stores/shard-store.js';
import { StoreDecorator, type StoreOp } from '../stores/store-decorator.js';
import type { StoreProvider } from '../stores/store-provider.js';

/** Passes at one shard at a time. */
export const PASSES_PER_SHARD = 2;

/** The contract calls that read whole ranges (on a server that scans, the whole shard). */
const PASSES: ReadonlySet<StoreOp> = new Set<StoreOp>(['countRanges', 'checksumRanges', 'tallyRanges', 'spanKeys', 'unfencedKeys']);

/** One shard's slots: a pass takes one, or waits for one to be handed on. */
class Slots {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  async take(): Promise<void> {
    if (this.#running < PASSES_PER_SHARD) this.#running += 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /** The slot passes to the next waiter as it is; else it is free. */
  give(): void {
    const next = this.#waiting.shift();
    if (next === undefined) this.#running -= 1;
    else next();
  }
}

/** A shard's store whose passes take one of the shard's slots; every other call goes straight through. */
class PassSlots extends StoreDecorator {
  readonly #slots: Slots;

  constructor(inner: ShardStore, slots: Slots) {
    super(inner);
    this.#slots = slots;
  }

  protected async around<T>(op: StoreOp, fn: () => Promise<T>): Promise<T> {
    if (!PASSES.has(op)) return fn();
    await this.#slots.take();
    try {
      return await fn();
    } finally {
      this.#slots.give();
    }
  }
}

/**
 * `pool`, its stores' passes limited to `PASSES_PER_SHARD` at a time per shard id (a pool may hand
 * out a new store object for each call).
 */
export function limitPasses(pool: StoreProvider): StoreProvider {
  const slots = new Map<string, Slots>();
  const wrap = (store: ShardStore): ShardStore => {
    let shard = slots.get(store.shardId);
    if (shard === undefined) {
      shard = new Slots();
      slots.set(store.shardId, shard);
    }
    return new PassSlots(store, shard);
  };
  return {
    store: (shardId) => {
      const store = pool.store(shardId);
      return store instanceof Promise ? store.then(wrap) : wrap(store);
    },
    ...(pool.addTopology === undefined ? {} : { addTopology: (topology) => pool.addTopology!(topology) }),
  };
}
