import { expect } from 'chai';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { copyForTarget } from '../../../src/collection/documents.js';
import { ErrorCode } from '../../../src/errors.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { rejection } from '../../support/rejection.js';
import { migrating, SpyPool, stable, topology } from './support.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
const EPOCH = 2;
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);
const IDS = Array.from({ length: 200 }, (_, i) => i);
const MOVING = IDS.filter((i) => r1.route(i) !== r2.route(i));

async function seeded(state: 'stable' | 'migrating') {
  const pool = new SpyPool(['a', 'b', 'c', 'd']);
  await new ShardedCollection({ name: 'mw', routing: new StaticRoutingSource(stable(R1)), pool }).insertMany(IDS.map((i) => ({ _id: i, g: i % 4, n: i })));
  const routing = new StaticRoutingSource(state === 'stable' ? stable(R1) : migrating(R1, R2, EPOCH));
  /** The copier's step for every moving key: fence at the old owner, copy to the new. */
  const copyAll = async (): Promise<void> => {
    for (const id of MOVING) {
      const [fenced] = await pool.raw(r1.route(id)).fence([{ id, h: r2.point(id) }], EPOCH);
      if (fenced !== undefined && fenced._ph === undefined) await pool.raw(r2.route(id)).insertIfAbsent([copyForTarget(fenced)]);
    }
  };
  return { pool, coll: new ShardedCollection({ name: 'mw', routing, pool }), copyAll };
}

describe('ShardedCollection multi-document writes', () => {
  for (const state of ['stable', 'migrating'] as const) {
    context(`when ${state}`, () => {
      it('#updateMany updates every match once and reports the driver\'s counts', async () => {
        const { coll } = await seeded(state);
        expect(await coll.updateMany({ g: 1 }, { $inc: { n: 1000 } })).to.deep.equal({ acknowledged: true, matchedCount: 50, modifiedCount: 50, upsertedCount: 0, upsertedId: null });
        expect(await coll.countDocuments({ n: { $gte: 1000 } })).to.equal(50);
        expect(await coll.updateMany({ g: 2 }, { $set: { g: 2 } })).to.include({ matchedCount: 50, modifiedCount: 0 });
        expect(await coll.updateMany({ g: 9 }, { $set: { x: 1 } })).to.include({ matchedCount: 0, upsertedCount: 0 });
        const up = await coll.updateMany({ _id: 'new', g: 9 }, { $set: { x: 1 } }, { upsert: true });
        expect(up).to.include({ matchedCount: 0, upsertedCount: 1, upsertedId: 'new' });
        expect(await coll.findOne({ _id: 'new' })).to.deep.equal({ _id: 'new', g: 9, x: 1 });
      });

      it('#deleteMany deletes every match once', async () => {
        const { coll } = await seeded(state);
        expect(await coll.deleteMany({ g: { $in: [0, 3] } })).to.deep.equal({ acknowledged: true, deletedCount: 100 });
        expect(await coll.countDocuments({})).to.equal(100);
        expect(await coll.deleteMany({ g: 0 })).to.deep.equal({ acknowledged: true, deletedCount: 0 });
      });

      it('#bulkWrite takes updateMany and deleteMany ops beside single-document ones', async () => {
        const { coll } = await seeded(state);
        const r = await coll.bulkWrite([
          { updateMany: { filter: { g: 1 }, update: { $set: { h: true } } } },
          { deleteMany: { filter: { g: 2 } } },
          { insertOne: { document: { _id: 'x' } } },
          { updateMany: { filter: { _id: 'y' }, update: { $set: { h: true } }, upsert: true } },
          { deleteOne: { filter: { _id: 0 } } },
        ]);
        expect(r).to.include({ matchedCount: 50, modifiedCount: 50, deletedCount: 51, insertedCount: 1, upsertedCount: 1 });
        expect(r.insertedIds).to.deep.equal({ 2: 'x' });
        expect(r.upsertedIds).to.deep.equal({ 3: 'y' });
        expect(await coll.countDocuments({ h: true })).to.equal(51);
      });

      it('#findOneAndUpdate returns the document before or after, picked by sort, projected', async () => {
        const { coll } = await seeded(state);
        expect(await coll.findOneAndUpdate({ g: 1 }, { $inc: { n: 1 } }, { sort: { n: -1 } })).to.deep.equal({ _id: 197, g: 1, n: 197 });
        expect(await coll.findOneAndUpdate({ g: 1 }, { $inc: { n: 1 } }, { sort: { n: -1 }, returnDocument: 'after', projection: { n: 1 } })).to.deep.equal({ _id: 197, n: 199 });
        expect(await coll.findOneAndUpdate({ _id: 5 }, { $set: { s: 'x' } }, { returnDocument: 'after' })).to.deep.equal({ _id: 5, g: 1, n: 5, s: 'x' });
        expect(await coll.findOneAndUpdate({ g: 7 }, { $set: { s: 'x' } })).to.equal(null);
        expect(await coll.findOneAndUpdate({ _id: 'u', g: 7 }, { $set: { s: 'x' } }, { upsert: true, returnDocument: 'after' })).to.deep.equal({ _id: 'u', g: 7, s: 'x' });
        expect(await coll.findOneAndUpdate({ _id: 'v' }, { $set: { s: 'x' } }, { upsert: true })).to.equal(null);
        expect(await coll.findOne({ _id: 'v' })).to.deep.equal({ _id: 'v', s: 'x' });
      });

      it('#findOneAndReplace and #findOneAndDelete', async () => {
        const { coll } = await seeded(state);
        expect(await coll.findOneAndReplace({ g: 2 }, { r: 1 }, { sort: { n: 1 } })).to.deep.equal({ _id: 2, g: 2, n: 2 });
        expect(await coll.findOneAndReplace({ _id: 2 }, { r: 2 }, { returnDocument: 'after' })).to.deep.equal({ _id: 2, r: 2 });
        expect(await coll.findOneAndDelete({ g: 3 }, { sort: { n: -1 }, projection: { g: 0 } })).to.deep.equal({ _id: 199, n: 199 });
        expect(await coll.findOne({ _id: 199 })).to.equal(null);
        expect(await coll.findOneAndDelete({ g: 3, n: 199 })).to.equal(null);
        expect((await rejection(coll.findOneAndReplace({ _id: 3 }, { _id: 4 }))).code).to.equal(ErrorCode.storeImmutableField);
      });
    });
  }

  context('when the range moves between the scatter and the writes', () => {
    it('updates every moving document exactly once (copied to its new owner after it was found at the old one)', async () => {
      const { pool, coll, copyAll } = await seeded('migrating');
      let copied = false;
      // The first write of the call (a bulk at some shard) comes after the scatter found every _id:
      // the copier fences and copies every moving key right then.
      pool.before = async (_shard, op) => {
        if (copied || (op !== 'bulkWrite' && op !== 'fence' && op !== 'updateOne')) return;
        copied = true;
        await copyAll();
      };
      const result = await coll.updateMany({}, { $inc: { n: 1000 } });
      expect(copied).to.equal(true);
      expect(result).to.include({ matchedCount: 200, modifiedCount: 200 });
      pool.before = undefined;
      const docs = await coll.find({}, { sort: { _id: 1 } }).toArray();
      expect(docs.map((d) => d['n'])).to.deep.equal(IDS.map((i) => i + 1000));
      // Never applied to two copies: each new owner holds the key once, with one increment.
      for (const id of MOVING) {
        const atNew = await pool.raw(r2.route(id)).get(id);
        expect(atNew?.['n'], `key ${id} at its new owner`).to.equal(id + 1000);
      }
      expect(await coll.deleteMany({ n: { $gte: 1100 } })).to.deep.equal({ acknowledged: true, deletedCount: 100 });
      expect(await coll.countDocuments({})).to.equal(100);
    });
  });
});
