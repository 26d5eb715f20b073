import { expect } from 'chai';
import { ObjectId } from 'mongodb';
import { ErrorCode } from '../../../src/errors.js';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { dump, SpyPool, stable, topology } from './support.js';
import { rejection } from '../../support/rejection.js';

const IDS = ['a', 'b', 'c'];

describe('ShardedCollection', () => {
  let pool: SpyPool;
  let coll: ShardedCollection<{ _id?: unknown; n?: number; tag?: string; name?: string }>;
  const t = topology(IDS);
  const router = ShardRouter.fromTopology(t);

  beforeEach(() => {
    pool = new SpyPool(IDS);
    coll = new ShardedCollection({ name: 'users', routing: new StaticRoutingSource(stable(t)), pool });
  });

  describe('constructor', () => {
    it('refuses a bad maxRedirects', () => {
      expect(() => new ShardedCollection({ name: 'x', routing: new StaticRoutingSource(stable(t)), pool, maxRedirects: -1 })).to.throw(
        /maxRedirects/,
      );
    });
  });

  describe('#insertOne', () => {
    it('stores each document on the shard route() names, with _h and _v, and nowhere else', async () => {
      for (let i = 0; i < 60; i++) await coll.insertOne({ _id: `user-${i}`, n: i });
      const all = await dump(pool);
      let total = 0;
      for (const [shard, docs] of all) {
        total += docs.length;
        for (const d of docs) {
          expect(router.route(d['_id'] as string)).to.equal(shard);
          expect(d['_h']).to.equal(router.point(d['_id'] as string));
          expect(d['_v']).to.equal(1);
        }
      }
      expect(total).to.equal(60);
      expect([...all.values()].every((docs) => docs.length > 0)).to.equal(true);
    });

    it('gives an id-less document an ObjectId, as the driver does', async () => {
      const doc: { _id?: unknown; n: number } = { n: 1 };
      const { insertedId } = await coll.insertOne(doc);
      expect(insertedId).to.be.instanceOf(ObjectId);
      expect(doc._id).to.equal(insertedId);
      const shard = router.route(insertedId as ObjectId);
      expect(await pool.raw(shard).get(insertedId)).to.include({ n: 1, _v: 1 });
    });

    for (const bad of [true, null, { a: 1 }, 1.5, [1]]) {
      it(`refuses the key ${JSON.stringify(bad)} with shardkit.key.invalid before writing`, async () => {
        const e = await rejection(coll.insertOne({ _id: bad }));
        expect(e.code).to.equal(ErrorCode.keyInvalid);
        for (const docs of (await dump(pool)).values()) expect(docs).to.have.length(0);
      });
    }

    it('refuses a document carrying a reserved field', async () => {
      const e = await rejection(coll.insertOne({ _id: 'x', _v: 9 } as never));
      expect(e.code).to.equal(ErrorCode.invalidArgument);
    });

    it('fails on an existing _id with shardkit.store.duplicateKey naming the shard', async () => {
      await coll.insertOne({ _id: 'dup' });
      const e = await rejection(coll.insertOne({ _id: 'dup' }));
      expect(e.code).to.equal(ErrorCode.storeDuplicateKey);
      expect(e.shardId).to.equal(router.route('dup'));
    });
  });

  describe('#findOne', () => {
    beforeEach(async () => {
      await coll.insertMany([
        { _id: 'k1', n: 1, tag: 'x' },
        { _id: 'k2', n: 2, tag: 'y' },
        { _id: 42, n: 3, tag: 'x' },
      ]);
      pool.resetCounts();
    });

    it('reads one key from its shard only, without reserved fields', async () => {
      expect(await coll.findOne({ _id: 'k1' })).to.deep.equal({ _id: 'k1', n: 1, tag: 'x' });
      const owner = router.route('k1');
      for (const id of IDS) expect(pool.count(id, 'get') + pool.count(id, 'find')).to.equal(id === owner ? 1 : 0);
    });

    it('applies the rest of the filter to the keyed document', async () => {
      expect(await coll.findOne({ _id: 'k1', tag: 'y' })).to.equal(null);
      expect(await coll.findOne({ _id: { $eq: 42 }, tag: 'x' })).to.deep.equal({ _id: 42, n: 3, tag: 'x' });
    });

    it('scatters a filter without _id and applies the projection', async () => {
      expect(await coll.findOne({ n: 2 }, { projection: { tag: 1, _id: 0 } })).to.deep.equal({ tag: 'y' });
    });

    it('returns null for a missing key', async () => {
      expect(await coll.findOne({ _id: 'nope' })).to.equal(null);
    });
  });

  describe('#updateOne', () => {
    it('updates at the owner and bumps _v', async () => {
      await coll.insertOne({ _id: 'u1', n: 1 });
      const r = await coll.updateOne({ _id: 'u1' }, { $inc: { n: 5 } });
      expect(r).to.include({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
      const stored = await pool.raw(router.route('u1')).get('u1');
      expect(stored).to.include({ n: 6, _v: 2 });
    });

    it('upserts at the owner with _h set', async () => {
      const r = await coll.updateOne({ _id: 'u2' }, { $set: { n: 7 } }, { upsert: true });
      expect(r.upsertedCount).to.equal(1);
      const stored = await pool.raw(router.route('u2')).get('u2');
      expect(stored).to.include({ n: 7, _v: 1, _h: router.point('u2') });
    });

    it('reports no match for a filter that does not match', async () => {
      await coll.insertOne({ _id: 'u3', n: 1 });
      const r = await coll.updateOne({ _id: 'u3', n: 2 }, { $set: { n: 9 } });
      expect(r.matchedCount).to.equal(0);
    });

    it('refuses a filter that does not pin _id with shardkit.key.invalid', async () => {
      expect((await rejection(coll.updateOne({ n: 1 }, { $set: { n: 2 } }))).code).to.equal(ErrorCode.keyInvalid);
      expect((await rejection(coll.updateOne({ _id: { $in: ['a'] } }, { $set: { n: 2 } }))).code).to.equal(ErrorCode.keyInvalid);
    });

    it('refuses updates of reserved fields', async () => {
      for (const update of [{ $set: { _h: 1 } }, { $inc: { _v: 1 } }, { $set: { _ts: true } }]) {
        expect((await rejection(coll.updateOne({ _id: 'x' }, update as never))).code).to.equal(ErrorCode.invalidArgument);
      }
    });
  });

  describe('#replaceOne', () => {
    it('replaces at the owner, keeping _id and _h', async () => {
      await coll.insertOne({ _id: 'r1', n: 1, tag: 't' });
      const r = await coll.replaceOne({ _id: 'r1' }, { n: 2 });
      expect(r.matchedCount).to.equal(1);
      expect(await coll.findOne({ _id: 'r1' })).to.deep.equal({ _id: 'r1', n: 2 });
      expect(await pool.raw(router.route('r1')).get('r1')).to.include({ _v: 2, _h: router.point('r1') });
    });

    it('refuses a replacement that changes the _id of a matched document (the driver: matchedCount 0 when none matches)', async () => {
      await coll.insertOne({ _id: 'r1', n: 1 });
      expect((await rejection(coll.replaceOne({ _id: 'r1' }, { _id: 'r2' }))).code).to.equal(ErrorCode.storeImmutableField);
      expect(await coll.findOne({ _id: 'r1' })).to.deep.equal({ _id: 'r1', n: 1 });
      expect(await coll.replaceOne({ _id: 'r0' }, { _id: 'r2' })).to.include({ matchedCount: 0, modifiedCount: 0 });
      expect(await coll.findOne({ _id: 'r2' })).to.equal(null);
    });

    it('upserts', async () => {
      const r = await coll.replaceOne({ _id: 'r3' }, { n: 3 }, { upsert: true });
      expect(r.upsertedCount).to.equal(1);
      expect(await pool.raw(router.route('r3')).get('r3')).to.include({ n: 3, _h: router.point('r3') });
    });
  });

  describe('#deleteOne', () => {
    it('deletes at the owner', async () => {
      await coll.insertOne({ _id: 'd1' });
      expect(await coll.deleteOne({ _id: 'd1' })).to.deep.equal({ acknowledged: true, deletedCount: 1 });
      expect(await coll.deleteOne({ _id: 'd1' })).to.deep.equal({ acknowledged: true, deletedCount: 0 });
      for (const docs of (await dump(pool)).values()) expect(docs).to.have.length(0);
    });
  });

  describe('#countDocuments', () => {
    it('counts by key and by scatter-gather', async () => {
      await coll.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i, n: i % 3 })));
      expect(await coll.countDocuments()).to.equal(30);
      expect(await coll.countDocuments({ n: 1 })).to.equal(10);
      expect(await coll.countDocuments({ _id: 4 })).to.equal(1);
      expect(await coll.countDocuments({ _id: 4, n: 0 })).to.equal(0);
      expect(await coll.countDocuments({}, { skip: 25, limit: 10 })).to.equal(5);
    });
  });

  describe('#createIndexes and #ensureRoutingIndexes', () => {
    it('reach every shard of the topology', async () => {
      await coll.ensureRoutingIndexes();
      await coll.createIndexes([{ key: { n: 1 }, name: 'n_1' }]);
      for (const id of IDS) {
        expect(await pool.raw(id).hasRoutingIndex()).to.equal(true);
        expect(pool.count(id, 'createIndexes')).to.equal(1);
      }
    });
  });

  context('when a shard is unreachable', () => {
    it('fails with an error naming the shard, the store error as cause', async () => {
      const key = 'offline-key';
      const owner = router.route(key);
      pool.raw(owner).setOffline(true);
      const e = await rejection(coll.insertOne({ _id: key }));
      expect(e.shardId).to.equal(owner);
      expect(e.message).to.contain(`shard ${owner}`);
      expect(e.code).to.equal(ErrorCode.storeUnavailable);
      const scatter = await rejection(coll.find({ n: 1 }).toArray());
      expect(scatter.shardId).to.equal(owner);
    });

    it('wraps a raw driver-like error with the shard id and never prints the URI', async () => {
      const cause = Object.assign(new Error('connect ECONNREFUSED for mongodb://admin:hunter2@127.0.0.1:1/x'), { name: 'MongoNetworkError' });
      const failing = new ShardedCollection({
        name: 'users',
        routing: new StaticRoutingSource(stable(t)),
        pool: {
          store: () => {
            throw cause;
          },
        },
      });
      const e = await rejection(failing.findOne({ _id: 'k' }));
      expect(e.code).to.equal(ErrorCode.storeUnavailable);
      expect(e.cause).to.equal(cause);
      expect(e.shardId).to.equal(router.route('k'));
      expect(e.message).to.not.contain('hunter2');
    });
  });
});
