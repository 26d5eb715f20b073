import { expect } from 'chai';
import { ErrorCode, ShardkitStoreError } from '../../../src/errors.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { describeShardStoreContract } from '../../support/shard-store-contract.js';

describeShardStoreContract('MemoryStore', {
  create: async (shardId) => new MemoryStore(shardId),
  pipelineUpdates: true,
});

describe('MemoryStore', function () {
  describe('#setOffline', function () {
    it('fails every call with storeUnavailable while offline, and recovers', async function () {
      const store = new MemoryStore('m1');
      await store.insert({ _id: 'a', _h: 1, _v: 1 });
      store.setOffline(true);
      try {
        await store.get('a');
        expect.fail('expected unavailable');
      } catch (error) {
        expect(error).to.be.instanceOf(ShardkitStoreError);
        expect((error as ShardkitStoreError).code).to.equal(ErrorCode.storeUnavailable);
        expect((error as ShardkitStoreError).shardId).to.equal('m1');
      }
      store.setOffline(false);
      expect((await store.get('a'))?._v).to.equal(1);
    });
  });

  describe('#close', function () {
    it('turns later calls away as unavailable', async function () {
      const store = new MemoryStore('m1');
      await store.close();
      try {
        await store.ping();
        expect.fail('expected unavailable');
      } catch (error) {
        expect((error as ShardkitStoreError).code).to.equal(ErrorCode.storeUnavailable);
      }
    });
  });

  describe('#size', function () {
    it('counts documents and markers', async function () {
      const store = new MemoryStore('m1');
      await store.insert({ _id: 'a', _h: 1, _v: 1 });
      await store.fence([{ id: 'b', h: 2 }], 2);
      expect(store.size).to.equal(2);
    });
  });
});
