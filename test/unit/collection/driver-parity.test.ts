/**
 * Where `ShardedCollection` answered differently from the driver on one collection (issue 9, part 0).
 * Each test names the difference it catches and fails on the code before its fix.
 */
import { expect } from 'chai';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { copyForTarget } from '../../../src/collection/documents.js';
import { ErrorCode } from '../../../src/errors.js';
import { rejection } from '../../support/rejection.js';
import { migrating, SpyPool, stable, topology } from './support.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
const EPOCH = 2;
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);
const IDS = Array.from({ length: 400 }, (_, i) => i);

async function seededMigrating() {
  const pool = new SpyPool(['a', 'b', 'c', 'd']);
  await new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(stable(R1)), pool }).insertMany(IDS.map((i) => ({ _id: i, n: i })));
  const coll = new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(migrating(R1, R2, EPOCH)), pool });
  return { pool, coll };
}

describe('ShardedCollection answers as the driver does', () => {
  describe('#countDocuments while a range is copied', () => {
    const leaving = IDS.filter((i) => r1.route(i) === 'a' && r2.route(i) === 'd');

    it('counts 400 of 400 when a fence batch lands between two queries at the source (issue 9: 395, 399, 401)', async () => {
      expect(leaving.length).to.be.greaterThan(5);
      const { pool, coll } = await seededMigrating();
      let reads = 0;
      let fenced = false;
      pool.before = async (shardId, op) => {
        if (shardId !== 'a' || (op !== 'count' && op !== 'find')) return;
        reads++;
        if (reads !== 2 || fenced) return;
        // Let the first query finish, then fence a batch, as the copier does, before the second one runs.
        await yieldToIo();
        fenced = true;
        await pool.raw('a').fence(leaving.map((id) => ({ id, h: r2.point(id) })), EPOCH);
      };
      expect(await coll.countDocuments({})).to.equal(400);
      expect(await coll.countDocuments({ n: { $gte: 200 } })).to.equal(200);
    });

    it('counts each document once when a batch is fenced and copied before the new owner is asked', async () => {
      const { pool, coll } = await seededMigrating();
      let copied = false;
      pool.before = async (shardId, op) => {
        if (shardId !== 'd' || copied || (op !== 'count' && op !== 'find')) return;
        copied = true;
        const docs = await pool.raw('a').fence(leaving.map((id) => ({ id, h: r2.point(id) })), EPOCH);
        await pool.raw('d').insertIfAbsent(docs.map(copyForTarget));
      };
      expect(await coll.countDocuments({})).to.equal(400);
      pool.before = undefined;
      expect(await coll.countDocuments({})).to.equal(400);
      expect(await coll.countDocuments({ n: { $lt: 100 } })).to.equal(100);
    });
  });

  /** A collection on 3 stable shards holding k1 {tags: [], s: 'a'} and k2 {n: 1}; and, while migrating, the same. */
  async function both(): Promise<Array<{ state: string; coll: ShardedCollection }>> {
    const out: Array<{ state: string; coll: ShardedCollection }> = [];
    const stablePool = new SpyPool(['a', 'b', 'c']);
    out.push({ state: 'stable', coll: new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(stable(R1)), pool: stablePool }) });
    const { coll } = await seededMigrating();
    out.push({ state: 'migrating', coll });
    for (const { coll: c } of out) await c.insertMany([{ _id: 'k1', tags: [], s: 'a' }, { _id: 'k2', n: 1 }]);
    return out;
  }

  describe('#updateOne that changes nothing', () => {
    it('reports modifiedCount 0, as the driver does (issue 9: the version bump counted as a modification)', async () => {
      for (const { state, coll } of await both()) {
        expect(await coll.updateOne({ _id: 'k1' }, { $set: { tags: [] } }), state).to.deep.equal({ acknowledged: true, matchedCount: 1, modifiedCount: 0, upsertedCount: 0, upsertedId: null });
        expect(await coll.replaceOne({ _id: 'k2' }, { n: 1 }), state).to.deep.equal({ acknowledged: true, matchedCount: 1, modifiedCount: 0, upsertedCount: 0, upsertedId: null });
        expect(await coll.updateOne({ _id: 'k1' }, { $set: { s: 'b' } }), state).to.include({ matchedCount: 1, modifiedCount: 1 });
        const bulk = await coll.bulkWrite([{ updateOne: { filter: { _id: 'k2' }, update: { $set: { n: 1 } } } }, { updateOne: { filter: { _id: 'k1' }, update: { $set: { s: 'c' } } } }]);
        expect(bulk, state).to.include({ matchedCount: 2, modifiedCount: 1 });
      }
    });
  });

  describe('#updateOne with upsert whose filter misses an existing _id', () => {
    it('answers a duplicate-key error, as the server does (issue 9: four retries, then shardkit.store.failure)', async () => {
      for (const { state, coll } of await both()) {
        const error = await rejection(coll.updateOne({ _id: 'k1', s: 'é' }, { $set: { x: 1 } }, { upsert: true }));
        expect(error, state).to.have.property('code', ErrorCode.storeDuplicateKey);
        expect(error.message, state).to.include('E11000');
        const replaced = await rejection(coll.replaceOne({ _id: 'k1', s: 'é' }, { x: 1 }, { upsert: true }));
        expect(replaced, state).to.have.property('code', ErrorCode.storeDuplicateKey);
        expect(await coll.findOne({ _id: 'k1' }), state).to.deep.equal({ _id: 'k1', tags: [], s: 'a' });
      }
    });
  });

  describe('#bulkWrite', () => {
    it('reports upsertedIds by op index, as the driver\'s BulkWriteResult (issue 9: missing)', async () => {
      for (const { state, coll } of await both()) {
        const result = await coll.bulkWrite([
          { updateOne: { filter: { _id: 'k1' }, update: { $set: { s: 'z' } }, upsert: true } },
          { updateOne: { filter: { _id: 'u1' }, update: { $set: { s: 'y' } }, upsert: true } },
          { insertOne: { document: { _id: 'i1' } } },
          { replaceOne: { filter: { _id: 'u2' }, replacement: { s: 'x' }, upsert: true } },
        ]);
        expect(result.upsertedIds, state).to.deep.equal({ 1: 'u1', 3: 'u2' });
        expect(result.insertedIds, state).to.deep.equal({ 2: 'i1' });
        expect(result, state).to.include({ upsertedCount: 2, matchedCount: 1, modifiedCount: 1, insertedCount: 1 });
      }
    });
  });

  describe('updates that touch _id (issue 9: all refused with shardkit.invalidArgument)', () => {
    it('applies the rest of an update that $sets _id to its own value, as MongoDB does', async () => {
      for (const { state, coll } of await both()) {
        expect(await coll.updateOne({ _id: 'k2' }, { $set: { _id: 'k2', n: 5 } }), state).to.include({ matchedCount: 1, modifiedCount: 1 });
        expect(await coll.findOne({ _id: 'k2' }), state).to.deep.equal({ _id: 'k2', n: 5 });
        expect(await coll.updateOne({ _id: 'k2' }, { $set: { _id: 'k2' } }), state).to.include({ matchedCount: 1, modifiedCount: 0 });
        expect(await coll.updateOne({ _id: 'k9' }, { $set: { _id: 'k9' } }), state).to.include({ matchedCount: 0, modifiedCount: 0 });
      }
    });

    it('answers matchedCount 0 for another _id when nothing matches, and the immutable-field error when a document does', async () => {
      for (const { state, coll } of await both()) {
        expect(await coll.updateOne({ _id: 'k2', n: 99 }, { $set: { _id: 'other' } }), state).to.include({ matchedCount: 0, modifiedCount: 0 });
        expect(await coll.updateOne({ _id: 'nope' }, { $set: { _id: 'other' } }), state).to.include({ matchedCount: 0 });
        expect(await coll.replaceOne({ _id: 'nope' }, { _id: 'other', a: 1 }), state).to.include({ matchedCount: 0 });
        const update = await rejection(coll.updateOne({ _id: 'k2' }, { $set: { _id: 'other' } }));
        expect(update, state).to.have.property('code', ErrorCode.storeImmutableField);
        const replace = await rejection(coll.replaceOne({ _id: 'k2' }, { _id: 'other', n: 1 }));
        expect(replace, state).to.have.property('code', ErrorCode.storeImmutableField);
        const bulk = await coll.bulkWrite([{ updateOne: { filter: { _id: 'k2' }, update: { $set: { _id: 'x' } } } }, { updateOne: { filter: { _id: 'zz' }, update: { $set: { _id: 'x' } } } }]);
        expect(bulk.errors.map((e) => e.index), state).to.deep.equal([0]);
        expect(bulk.matchedCount, state).to.equal(0);
        expect(await coll.findOne({ _id: 'k2' }), state).to.deep.equal({ _id: 'k2', n: 1 });
        expect(await coll.countDocuments({ _id: 'other' }), state).to.equal(0);
      }
    });
  });
});
