/**
 * After an aborted migration the reverse leg publishes `stable(e+3)` with the original owners, while
 * placeholders the forward leg left at those owners (`_moved: e+1`, no data) wait for cleanup. Under
 * the stable state such a placeholder is a leftover, not a "moved" signal: the key exists nowhere,
 * so reads see nothing, and writes succeed instead of refreshing until `shardkit.router.redirectLimit`.
 * A placeholder from a newer epoch than the router's, and a fence that holds data, keep their meaning.
 */
import { expect } from 'chai';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ErrorCode, hasErrorCode } from '../../../src/errors.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import type { MemoryStore } from '../../../src/stores/memory-store.js';
import { SpyPool, stable, topology } from './support.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
/** Fence epoch of the aborted forward leg (`migrating(2, R1 -> R2)`). */
const FORWARD = 2;
/** The reverse leg (`migrating(3, R2 -> R1)`) committed as `stable(4, R1)`. */
const STABLE = 4;
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);

const moving: number[] = [];
for (let i = 0; moving.length < 8; i++) if (r1.route(i) !== r2.route(i)) moving.push(i);

/** Placeholders of the aborted forward leg at the original owners of `ids`; a collection on `stable(4, R1)`. */
async function leftovers(ids: readonly number[], epoch = FORWARD) {
  const pool = new SpyPool(['a', 'b', 'c', 'd']);
  const ownerOf = (id: number): MemoryStore => pool.raw(r1.route(id));
  for (const id of ids) {
    const [ph] = await ownerOf(id).fence([{ id, h: r1.point(id) }], epoch);
    expect(ph).to.include({ _ph: true, _moved: epoch });
  }
  const coll = new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(stable(R1, STABLE)), pool });
  return { pool, coll, ownerOf };
}

function code(error: unknown): string | undefined {
  return hasErrorCode(error, ErrorCode.redirectLimit) ? ErrorCode.redirectLimit : (error as { code?: string }).code;
}

describe('ShardedCollection on a stable state with placeholders left by an aborted migration', () => {
  describe('#insertOne', () => {
    it('inserts over the placeholder, at the owner, without a redirect', async () => {
      const [k] = moving as [number];
      const { coll, ownerOf, pool } = await leftovers([k]);
      await coll.insertOne({ _id: k, n: 1 });
      expect(coll.redirects).to.equal(0);
      const stored = await ownerOf(k).get(k);
      expect(stored).to.include({ _id: k, n: 1 });
      expect(stored).to.not.have.any.keys('_moved', '_ph', '_ts');
      expect(await pool.raw(r2.route(k)).get(k)).to.equal(null);
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, n: 1 });
    });

    it('fails a second insert of the same key as a duplicate', async () => {
      const [k] = moving as [number];
      const { coll } = await leftovers([k]);
      await coll.insertOne({ _id: k, n: 1 });
      const error = await coll.insertOne({ _id: k, n: 2 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(code(error)).to.equal(ErrorCode.storeDuplicateKey);
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, n: 1 });
    });

    it('lets exactly one of two concurrent inserts of the key win', async () => {
      const [k] = moving as [number];
      const { coll, ownerOf } = await leftovers([k]);
      const results = await Promise.allSettled([coll.insertOne({ _id: k, n: 1 }), coll.insertOne({ _id: k, n: 2 })]);
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected.map((r) => code(r.reason))).to.deep.equal([ErrorCode.storeDuplicateKey]);
      const winner = results[0]?.status === 'fulfilled' ? 1 : 2;
      expect(await ownerOf(k).find({ _id: k })).to.have.length(1);
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, n: winner });
    });

    it('still inserts when cleanup deletes the placeholder between the failed insert and the replacement', async () => {
      const [k] = moving as [number];
      const { coll, ownerOf, pool } = await leftovers([k]);
      let cleaned = 0;
      pool.before = async (shardId, method) => {
        // The router read the placeholder after its insert failed; cleanup removes it before the router acts.
        if (shardId === r1.route(k) && method === 'deleteRange' && cleaned === 0) {
          cleaned = await ownerOf(k).deleteRange({ start: -1, end: 0xffffffff }, { _ph: true }, 10);
        }
      };
      await coll.insertOne({ _id: k, n: 7 });
      expect(cleaned).to.equal(1);
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, n: 7 });
    });

    it('does not remove a marker that changed after it was read (a newer fence stays and means moved)', async () => {
      const [k] = moving as [number];
      const { coll, ownerOf, pool } = await leftovers([k]);
      pool.before = async (shardId, method) => {
        // Between the router's read and its conditional delete, the placeholder is swapped for a newer one.
        if (shardId === r1.route(k) && method === 'deleteRange') {
          await ownerOf(k).deleteRange({ start: -1, end: 0xffffffff }, { _id: k }, 1);
          await ownerOf(k).fence([{ id: k, h: r1.point(k) }], STABLE + 1);
        }
      };
      const error = await coll.insertOne({ _id: k, n: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(code(error)).to.equal(ErrorCode.redirectLimit);
      expect(await ownerOf(k).get(k)).to.include({ _ph: true, _moved: STABLE + 1 });
    });

    it('answers moved for a placeholder newer than its epoch (a migration it has not seen)', async () => {
      const [k] = moving as [number];
      const { coll, ownerOf } = await leftovers([k], STABLE + 1);
      const error = await coll.insertOne({ _id: k, n: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(code(error)).to.equal(ErrorCode.redirectLimit);
      expect(await ownerOf(k).get(k)).to.include({ _ph: true, _moved: STABLE + 1 });
    });

    it('never writes over an older fence that holds data', async () => {
      const [k] = moving as [number];
      const pool = new SpyPool(['a', 'b', 'c', 'd']);
      const owner = pool.raw(r1.route(k));
      await owner.insert({ _id: k, _h: r1.point(k), _v: 3, n: 0 });
      await owner.fence([{ id: k, h: r1.point(k) }], FORWARD);
      const coll = new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(stable(R1, STABLE)), pool });
      await coll.insertOne({ _id: k, n: 1 }).catch(() => undefined);
      expect(await owner.get(k)).to.include({ _moved: FORWARD, n: 0, _v: 3 });
    });
  });

  describe('#insertMany', () => {
    it('inserts every key over its placeholder', async () => {
      const { coll, ownerOf } = await leftovers(moving);
      const result = await coll.insertMany(moving.map((id) => ({ _id: id, n: id })));
      expect(result.insertedCount).to.equal(moving.length);
      for (const id of moving) expect(await ownerOf(id).get(id)).to.include({ _id: id, n: id }).and.not.have.any.keys('_ph', '_moved');
    });
  });

  describe('#findOne', () => {
    it('answers not found without a redirect', async () => {
      const [k] = moving as [number];
      const { coll } = await leftovers([k]);
      expect(await coll.findOne({ _id: k })).to.equal(null);
      expect(await coll.countDocuments({ _id: k })).to.equal(0);
      expect(coll.redirects).to.equal(0);
    });
  });

  describe('#updateOne', () => {
    it('matches nothing without an upsert', async () => {
      const [k] = moving as [number];
      const { coll, ownerOf } = await leftovers([k]);
      expect(await coll.updateOne({ _id: k }, { $set: { n: 1 } })).to.include({ matchedCount: 0, upsertedCount: 0 });
      expect(await ownerOf(k).get(k)).to.include({ _ph: true });
    });

    it('upserts over the placeholder', async () => {
      const [k] = moving as [number];
      const { coll } = await leftovers([k]);
      expect(await coll.updateOne({ _id: k }, { $set: { n: 2 } }, { upsert: true })).to.include({ upsertedCount: 1, upsertedId: k });
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, n: 2 });
    });
  });

  describe('#replaceOne', () => {
    it('upserts over the placeholder', async () => {
      const [k] = moving as [number];
      const { coll } = await leftovers([k]);
      expect(await coll.replaceOne({ _id: k }, { n: 3 }, { upsert: true })).to.include({ upsertedCount: 1 });
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, n: 3 });
    });
  });

  describe('#deleteOne', () => {
    it('deletes nothing without a redirect', async () => {
      const [k] = moving as [number];
      const { coll } = await leftovers([k]);
      expect(await coll.deleteOne({ _id: k })).to.deep.equal({ acknowledged: true, deletedCount: 0 });
      expect(coll.redirects).to.equal(0);
    });
  });

  describe('#bulkWrite', () => {
    it('applies inserts, upserts and deletes on keys with placeholders', async () => {
      const [k1, k2, k3] = moving as [number, number, number];
      const { coll } = await leftovers([k1, k2, k3]);
      const result = await coll.bulkWrite([
        { insertOne: { document: { _id: k1, n: 1 } } },
        { updateOne: { filter: { _id: k2 }, update: { $set: { n: 2 } }, upsert: true } },
        { deleteOne: { filter: { _id: k3 } } },
      ]);
      expect(result.errors).to.deep.equal([]);
      expect(result).to.include({ insertedCount: 1, upsertedCount: 1, deletedCount: 0 });
      expect(await coll.find({}, { sort: { _id: 1 } }).toArray()).to.deep.equal(
        [
          { _id: k1, n: 1 },
          { _id: k2, n: 2 },
        ].sort((x, y) => x._id - y._id),
      );
    });
  });
});
