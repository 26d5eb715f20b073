import { expect } from 'chai';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import type { ShardedWriteOp } from '../../../src/collection/types.js';
import { copyForTarget } from '../../../src/collection/documents.js';
import { ErrorCode, ShardkitError } from '../../../src/errors.js';
import type { StoredDocument } from '../../../src/stores/shard-store.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { hooked } from '../../support/hooked-store.js';
import { dump, LaggingSource, migrating, SpyPool, stable, topology } from './support.js';

const IDS = ['a', 'b', 'c'];
const R1 = topology(IDS);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);

describe('ShardedCollection', () => {
  describe('#bulkWrite', () => {
    let pool: SpyPool;
    let coll: ShardedCollection;

    beforeEach(() => {
      pool = new SpyPool([...IDS, 'd']);
      coll = new ShardedCollection({ name: 'bulk', routing: new StaticRoutingSource(stable(R1)), pool });
    });

    it('sends one store.bulkWrite per shard and lands every op on its shard', async () => {
      const ops: ShardedWriteOp[] = Array.from({ length: 90 }, (_, i) => ({ insertOne: { document: { _id: `k${i}`, n: i } } }));
      const r = await coll.bulkWrite(ops);
      expect(r.insertedCount).to.equal(90);
      expect(r.errors).to.deep.equal([]);
      expect(Object.keys(r.insertedIds)).to.have.length(90);
      expect(r.insertedIds[7]).to.equal('k7');
      for (const id of IDS) expect(pool.count(id, 'bulkWrite')).to.equal(1);
      for (const [shard, docs] of await dump(pool)) for (const d of docs) expect(r1.route(d['_id'] as string)).to.equal(shard);
    });

    it('merges counts of mixed ops and reports failures by input index', async () => {
      await coll.insertMany([{ _id: 1, n: 1 }, { _id: 2, n: 2 }, { _id: 3, n: 3 }]);
      pool.resetCounts();
      const r = await coll.bulkWrite([
        { updateOne: { filter: { _id: 1 }, update: { $inc: { n: 10 } } } },
        { insertOne: { document: { _id: 2 } } },
        { replaceOne: { filter: { _id: 3 }, replacement: { m: 1 } } },
        { deleteOne: { filter: { _id: 2 } } },
        { updateOne: { filter: { _id: 4 }, update: { $set: { n: 4 } }, upsert: true } },
        { updateOne: { filter: { _id: 5 }, update: { $set: { n: 5 } } } },
      ]);
      expect(r).to.include({ insertedCount: 0, matchedCount: 2, modifiedCount: 2, deletedCount: 1, upsertedCount: 1 });
      expect(r.errors.map((e) => e.index)).to.deep.equal([1]);
      expect((r.errors[0]?.error as ShardkitError).code).to.equal(ErrorCode.storeDuplicateKey);
      expect(await coll.find({}, { sort: { _id: 1 } }).toArray()).to.deep.equal([
        { _id: 1, n: 11 },
        { _id: 3, m: 1 },
        { _id: 4, n: 4 },
      ]);
      const shardsUsed = new Set([1, 2, 3, 4, 5].map((k) => r1.route(k)));
      for (const id of IDS) expect(pool.count(id, 'bulkWrite')).to.equal(shardsUsed.has(id) ? 1 : 0);
    });

    it('refuses an invalid key with shardkit.key.invalid before writing anything', async () => {
      let error: unknown;
      try {
        await coll.bulkWrite([{ insertOne: { document: { _id: 'fine' } } }, { updateOne: { filter: { n: 1 }, update: { $set: { n: 2 } } } }]);
      } catch (e) {
        error = e;
      }
      expect((error as ShardkitError).code).to.equal(ErrorCode.keyInvalid);
      expect((error as Error).message).to.contain('op 1');
      for (const docs of (await dump(pool)).values()) expect(docs).to.have.length(0);
    });

    it('insertMany throws the failure after applying the rest', async () => {
      await coll.insertOne({ _id: 'x' });
      let error: unknown;
      try {
        await coll.insertMany([{ _id: 'y' }, { _id: 'x' }, { _id: 'z' }]);
      } catch (e) {
        error = e;
      }
      expect((error as ShardkitError).code).to.equal(ErrorCode.storeDuplicateKey);
      expect(await coll.countDocuments()).to.equal(3);
    });

    context('while migrating', () => {
      it('batches keys that stay and sends moving keys through the protocol', async () => {
        const keys = Array.from({ length: 60 }, (_, i) => i);
        await coll.insertMany(keys.map((i) => ({ _id: i, n: i })));
        const moving = keys.filter((k) => r1.route(k) !== r2.route(k));
        expect(moving.length).to.be.greaterThan(3);
        pool.resetCounts();
        const during = new ShardedCollection({ name: 'bulk', routing: new StaticRoutingSource(migrating(R1, R2, 2)), pool });
        const r = await during.bulkWrite(keys.map((k) => ({ updateOne: { filter: { _id: k }, update: { $inc: { n: 1 } } } })));
        expect(r).to.include({ matchedCount: 60, modifiedCount: 60 });
        for (const id of IDS) expect(pool.count(id, 'bulkWrite')).to.equal(1);
        expect(pool.count('d', 'bulkWrite')).to.equal(0);
        // Not reached by the copier: each written at its old owner (ADR 0002, decision 8).
        for (const k of moving) {
          expect(await pool.raw('d').get(k)).to.equal(null);
          expect(await pool.raw(r1.route(k)).get(k)).to.include({ n: k + 1 }).and.not.have.property('_moved');
        }
        expect((await during.find({}, { sort: { _id: 1 } }).toArray()).map((d) => d['n'])).to.deep.equal(keys.map((k) => k + 1));
      });

      it('never re-applies an op that applied just before a migration fenced its key in the same round trip', async () => {
        const k = Array.from({ length: 200 }, (_, i) => i).find((i) => r1.route(i) !== r2.route(i)) as number;
        const source = r1.route(k);
        // A key on the same shard that does not exist: its update matches nothing, as a turned-away op would.
        const absent = Array.from({ length: 200 }, (_, i) => `absent${i}`).find((id) => r1.route(id) === source) as string;
        await coll.insertOne({ _id: k, n: 0 });
        // The copier fences and copies k while the shard's reply to the bulk is on its way back.
        const racing = {
          store(id: string) {
            const store = pool.store(id);
            if (id !== source) return store;
            return hooked(store, {
              async after(_shardId, op) {
                if (op !== 'bulkWrite') return;
                const [fenced] = await pool.raw(source).fence([{ id: k, h: r2.point(k) }], 2);
                await pool.raw('d').insertIfAbsent([copyForTarget(fenced as StoredDocument)]);
              },
            });
          },
        };
        const routing = new LaggingSource(stable(R1), migrating(R1, R2, 2));
        const stale = new ShardedCollection({ name: 'bulk', routing, pool: racing });
        const r = await stale.bulkWrite([
          { updateOne: { filter: { _id: k }, update: { $inc: { n: 1 } } } },
          { updateOne: { filter: { _id: absent }, update: { $set: { x: 1 } } } },
        ]);
        expect(r).to.include({ matchedCount: 1, modifiedCount: 1 });
        expect(r.errors).to.deep.equal([]);
        expect(await pool.raw('d').get(k)).to.include({ n: 1 });
        const fresh = new ShardedCollection({ name: 'bulk', routing: new StaticRoutingSource(migrating(R1, R2, 2)), pool });
        expect(await fresh.findOne({ _id: k })).to.deep.equal({ _id: k, n: 1 });
      });

      it('redirects ops a stale router sent to a fenced key, and applies them once', async () => {
        const keys = Array.from({ length: 40 }, (_, i) => i);
        await coll.insertMany(keys.map((i) => ({ _id: i, n: i })));
        const fresh = new ShardedCollection({ name: 'bulk', routing: new StaticRoutingSource(migrating(R1, R2, 2)), pool });
        const moving = keys.filter((k) => r1.route(k) !== r2.route(k));
        // The copier fences and copies the moving keys; a router on the migrating state then writes them.
        for (const k of moving) {
          const [fenced] = await pool.raw(r1.route(k)).fence([{ id: k, h: r2.point(k) }], 2);
          await pool.raw('d').insertIfAbsent([copyForTarget(fenced as StoredDocument)]);
          await fresh.updateOne({ _id: k }, { $set: { touched: true } });
        }
        const routing = new LaggingSource(stable(R1), migrating(R1, R2, 2));
        const stale = new ShardedCollection({ name: 'bulk', routing, pool });
        const r = await stale.bulkWrite([
          ...keys.map((k) => ({ updateOne: { filter: { _id: k }, update: { $inc: { n: 100 } } } })),
          { deleteOne: { filter: { _id: moving[0] as number } } },
          { insertOne: { document: { _id: moving[1] as number } } },
        ]);
        expect(r.matchedCount).to.equal(40);
        expect(r.deletedCount).to.equal(1);
        expect(r.errors.map((e) => e.index)).to.deep.equal([41]);
        expect((r.errors[0]?.error as ShardkitError).code).to.equal(ErrorCode.storeDuplicateKey);
        expect(routing.refreshes).to.be.greaterThan(0);
        const docs = await fresh.find({}, { sort: { _id: 1 } }).toArray();
        expect(docs.map((d) => d['_id'])).to.deep.equal(keys.filter((k) => k !== moving[0]));
        for (const d of docs) expect(d['n']).to.equal((d['_id'] as number) + 100);
      });
    });

    // Issue 8, "no silent wrong answers": both cases failed before (a silent matchedCount 0, and an
    // exception that hid what the other shards had applied).
    context('when a shard fails or misbehaves after its round trip', () => {
      it('reports the failed read of what an unapplied op met as that op\'s error, not as matched nothing', async () => {
        const shard = r1.route('gone');
        pool.before = async (shardId, op) => {
          if (shardId === shard && op === 'find') throw new Error('connection reset by peer');
        };
        const r = await coll.bulkWrite([
          { updateOne: { filter: { _id: 'gone' }, update: { $set: { n: 1 } } } },
          { insertOne: { document: { _id: 'fresh' } } },
        ]);
        expect(r.errors.map((e) => e.index)).to.deep.equal([0]);
        expect(r.errors[0]?.error.message).to.contain('connection reset by peer');
        expect(r).to.include({ insertedCount: 1, matchedCount: 0 });
      });

      it('reports an op the store gave no outcome for as that op\'s error and keeps every other shard\'s result', async () => {
        const keys = Array.from({ length: 30 }, (_, i) => `m${String(i)}`);
        await coll.insertMany(keys.map((_id) => ({ _id, n: 0 })));
        const broken = r1.route('m0');
        pool.after = (shardId, op, result) => {
          if (shardId === broken && op === 'bulkWrite') (result as { results: unknown[] }).results.length = 0;
        };
        const r = await coll.bulkWrite(keys.map((_id) => ({ updateOne: { filter: { _id }, update: { $inc: { n: 1 } } } })));
        const onBroken = keys.flatMap((k, i) => (r1.route(k) === broken ? [i] : []));
        expect(onBroken.length).to.be.greaterThan(0).and.below(keys.length);
        expect(r.errors.map((e) => e.index)).to.deep.equal(onBroken);
        for (const e of r.errors) expect((e.error as ShardkitError).code).to.equal(ErrorCode.storeFailure);
        // Every op was applied; the ones on the other shards are counted as such.
        expect(r.matchedCount).to.be.at.least(keys.length - onBroken.length);
        pool.after = undefined;
        for (const d of await coll.find({}).toArray()) expect(d['n']).to.equal(1);
      });
    });
  });
});
