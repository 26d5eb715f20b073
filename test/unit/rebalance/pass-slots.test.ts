import { expect } from 'chai';
import { limitPasses, PASSES_PER_SHARD } from '../../../src/rebalance/pass-slots.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { HashRange, RangeCounts, StoreFilter } from '../../../src/stores/shard-store.js';

/** A shard whose counts wait until released, so the test sees how many run at once. */
class Gated extends MemoryStore {
  inFlight = 0;
  maxInFlight = 0;
  readonly #gates: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  override async countRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeCounts> {
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await new Promise<void>((resolve, reject) => this.#gates.push({ resolve, reject }));
      return await super.countRanges(ranges, filter);
    } finally {
      this.inFlight--;
    }
  }

  /** End the oldest waiting count, with an error when given. */
  release(error?: Error): void {
    const gate = this.#gates.shift();
    if (error === undefined) gate?.resolve();
    else gate?.reject(error);
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('limitPasses', () => {
  it('runs at most two passes at a shard at once, the rest in turn, and lets other calls through', async () => {
    const s1 = new Gated('s1');
    const s2 = new Gated('s2');
    const pool = limitPasses({ store: (id) => (id === 's1' ? s1 : Promise.resolve(s2)) });
    const store = await pool.store('s1');
    const all = [{ start: -1, end: 0xffffffff }];
    // Through the store of one call and another's: the slots are the shard's.
    const counts = [...Array.from({ length: 3 }, () => store.countRanges(all)), ...Array.from({ length: 2 }, async () => (await pool.store('s1')).countRanges(all))];
    const other = (await pool.store('s2')).countRanges(all);
    await turn();
    expect(s1.inFlight).to.equal(PASSES_PER_SHARD);
    expect(s2.inFlight, 'another shard has slots of its own').to.equal(1);
    expect(await store.get('x'), 'a point read does not wait').to.equal(null);
    s1.release(new Error('batch timed out'));
    await turn();
    expect(s1.inFlight, 'a failed pass frees its slot').to.equal(PASSES_PER_SHARD);
    for (let i = 0; i < 4; i++) {
      s1.release();
      await turn();
    }
    s2.release();
    const settled = await Promise.allSettled([...counts, other]);
    expect(settled.map((r) => r.status)).to.deep.equal(['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(s1.maxInFlight).to.equal(PASSES_PER_SHARD);
  });
});
