import { expect } from 'chai';
import { StoreMetrics } from '../../../src/metrics/store-metrics.js';
import { InstrumentedStore, wrapStore } from '../../../src/stores/instrumented-store.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import { ResilientStore } from '../../../src/stores/resilience.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import { hooked } from '../../support/hooked-store.js';
import { describeShardStoreContract } from '../../support/shard-store-contract.js';

// A wrapper that drops or reshapes a call breaks the contract the collection relies on, so the wrapped
// stack must pass the same suite as the bare store.
describeShardStoreContract('wrapStore(MemoryStore) with metrics and resilience', {
  create: async (shardId) => wrapStore(new MemoryStore(shardId), { metrics: new StoreMetrics(), resilience: { opTimeoutMs: 0 } }),
  pipelineUpdates: true,
  propertyRuns: 20,
});

/** The methods of the `ShardStore` contract: those both implementations have (each adds its own extras). */
function contractMethods(): string[] {
  const mongo = new Set(Object.getOwnPropertyNames(MongoStore.prototype));
  return Object.getOwnPropertyNames(MemoryStore.prototype).filter((name) => name !== 'constructor' && mongo.has(name));
}

describe('store wrappers', function () {
  const wrappers: Array<[string, (inner: ShardStore) => ShardStore]> = [
    ['InstrumentedStore', (inner) => new InstrumentedStore(inner, new StoreMetrics())],
    ['ResilientStore', (inner) => new ResilientStore(inner, { opTimeoutMs: 0 })],
  ];
  for (const [name, wrap] of wrappers) {
    describe(name, function () {
      it('has every method of the store contract', function () {
        const wrapped = wrap(new MemoryStore('s1')) as unknown as Record<string, unknown>;
        for (const method of contractMethods()) expect(typeof wrapped[method], method).to.equal('function');
      });

      it('forwards replaceTombstone to the inner store as one call', async function () {
        const memory = new MemoryStore('s1');
        await memory.tombstone('a', 1, 2);
        const calls: string[] = [];
        const spy = hooked(memory, { before: (_shard, op) => void calls.push(op) });
        expect(await wrap(spy).replaceTombstone({ _id: 'a', _h: 1, _v: 3, x: 1 })).to.equal(true);
        expect(calls).to.deep.equal(['replaceTombstone']);
        expect(await memory.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 3, x: 1 });
      });
    });
  }
});
