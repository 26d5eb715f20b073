import { expect } from 'chai';
import fc from 'fast-check';
import { updateOne as mingoUpdateOne } from 'mingo';
import { ErrorCode, ShardkitInvalidArgumentError, ShardkitStoreError } from '../../../src/errors.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { describeShardStoreContract } from '../../support/shard-store-contract.js';

describeShardStoreContract('MemoryStore', {
  create: async (shardId) => new MemoryStore(shardId),
  pipelineUpdates: true,
});

describe('MemoryStore', function () {
  describe('#updateOne', function () {
    it('applies $set/$inc/$unset exactly as mingo does (its direct path must not drift)', async function () {
      const value = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom('s', null), fc.constant({ x: 1 }));
      const path = fc.constantFrom('a', 'b', 'a.x', 'a.y', 'c.y.z', 'n');
      const docArb = fc.record({ a: fc.option(fc.oneof(value, fc.record({ x: value })), { nil: undefined }), n: fc.option(fc.integer(), { nil: undefined }) });
      const modArb = fc.record(
        { $set: fc.dictionary(path, value, { maxKeys: 2 }), $inc: fc.dictionary(path, fc.integer({ min: -3, max: 3 }), { maxKeys: 2 }), $unset: fc.dictionary(path, fc.constant(''), { maxKeys: 2 }) },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(docArb, modArb, async (fields, modifier) => {
          if (Object.keys(modifier).length === 0) return;
          const base: Record<string, unknown> = { _id: 'k', _h: 1, _v: 1 };
          for (const [k, v] of Object.entries(fields)) if (v !== undefined) base[k] = v;
          const reference = [structuredClone(base)];
          let expected: unknown;
          try {
            mingoUpdateOne(reference, {}, { ...modifier, $inc: { ...modifier.$inc, _v: 1 } } as never);
            expected = reference[0];
          } catch {
            expected = 'error';
          }
          const store = new MemoryStore('m');
          await store.insert(base as never);
          let actual: unknown;
          try {
            await store.updateOne({ _id: 'k' }, modifier as never);
            actual = await store.get('k');
          } catch {
            actual = 'error';
          }
          expect(actual).to.deep.equal(expected);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('#find', function () {
    context("when the sort is the driver's array of field names", function () {
      it("sorts by every field, as the driver reads ['a', 'b'] (it once sorted by 'a' alone)", async function () {
        const store = new MemoryStore('m');
        for (const [id, a, b] of [['x', 1, 2], ['y', 1, 1], ['z', 0, 3]] as const) await store.insert({ _id: id, _h: 1, _v: 1, a, b });
        expect((await store.find({}, { sort: ['a', 'b'] })).map((d) => d._id)).to.deep.equal(['z', 'y', 'x']);
        expect((await store.find({}, { sort: [['a', 'desc'], ['b', 1]] })).map((d) => d._id)).to.deep.equal(['y', 'x', 'z']);
      });
    });

    context('when a sort direction is not one the driver accepts', function () {
      it('refuses it instead of sorting ascending', async function () {
        const store = new MemoryStore('m');
        await store.insert({ _id: 'x', _h: 1, _v: 1, a: 1 });
        const error = await store.find({}, { sort: { a: 2 } as never }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(ShardkitInvalidArgumentError);
      });
    });
  });

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
