import { expect } from 'chai';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { DemoWriter, prng, sumCounters, emptyWriterCounters, type DemoDoc } from '../../../src/demo/writers.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { Topology } from '../../../src/topology/topology.js';

function collection(store: MemoryStore): ShardedCollection<DemoDoc> {
  const topology = Topology.from({ name: 'demo', shards: [{ id: 's1', weight: 1 }] });
  return new ShardedCollection<DemoDoc>({
    name: 'demo',
    pool: { store: () => store },
    routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: topology.toJSON() }),
  });
}

describe('demo writers', () => {
  describe('#prng', () => {
    it('gives the same sequence for the same seed and a different one for another', () => {
      const a = prng(7);
      const b = prng(7);
      const c = prng(8);
      const xs = Array.from({ length: 5 }, () => a());
      expect(Array.from({ length: 5 }, () => b())).to.deep.equal(xs);
      expect(Array.from({ length: 5 }, () => c())).to.not.deep.equal(xs);
      expect(xs.every((x) => x >= 0 && x < 1)).to.equal(true);
    });
  });

  describe('#step', () => {
    it('keeps books that match the store after many operations', async () => {
      const store = new MemoryStore('s1');
      const writer = new DemoWriter(0, collection(store), 3);
      for (let i = 0; i < 300; i++) await writer.step();
      const c = writer.counters;
      expect(c.inserts).to.be.greaterThan(0);
      expect(c.updates).to.be.greaterThan(0);
      expect(c.deletes).to.be.greaterThan(0);
      expect(c.reads).to.be.greaterThan(0);
      expect([c.failed, c.staleReads]).to.deep.equal([0, 0]);
      for (const [id, want] of writer.expected) {
        const doc = await store.get(id);
        expect(doc === null ? null : doc['n'], id).to.equal(want);
      }
      expect(await store.count({})).to.equal([...writer.expected.values()].filter((v) => v !== null).length);
    });

    context('when the collection fails', () => {
      it('counts the failure by code and leaves the key uncertain', async () => {
        const store = new MemoryStore('s1');
        const writer = new DemoWriter(1, collection(store), 1);
        store.setOffline(true);
        await writer.step();
        expect(writer.counters.failed).to.equal(1);
        expect(writer.counters.errors).to.deep.equal({ 'shardkit.store.unavailable': 1 });
        expect(writer.uncertain.size).to.equal(1);
        const [id, allowed] = [...writer.uncertain][0]!;
        expect(id).to.match(/^w1:/);
        expect(allowed).to.have.length(2);
        expect(allowed[0]).to.equal(null);
      });
    });
  });

  describe('#sumCounters', () => {
    it('adds counters and merges error codes', () => {
      const a = { ...emptyWriterCounters(), inserts: 2, failed: 1, errors: { x: 1 } };
      const b = { ...emptyWriterCounters(), inserts: 3, reads: 4, errors: { x: 2, y: 1 } };
      expect(sumCounters([a, b])).to.deep.equal({ ...emptyWriterCounters(), inserts: 5, reads: 4, failed: 1, errors: { x: 3, y: 1 } });
    });
  });
});
