/**
 * Issue 9, part 7: the driver options an application sets on a `ShardedCollection` call reach every
 * shard call it makes (read preference, read and write concern, comment; maxTimeMS as the call's
 * deadline), what shardkit cannot honour is refused before anything is sent, results carry the driver's
 * `acknowledged`, and `estimatedDocumentCount` sums the shards' own estimates.
 */
import { expect } from 'chai';
import type { ReadPreference, WriteConcern } from 'mongodb';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ErrorCode } from '../../../src/errors.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { currentDeadline, remainingMs } from '../../../src/stores/deadline.js';
import { currentDriverOptions, type DriverCallOptions } from '../../../src/stores/driver-options.js';
import type { StoreOp } from '../../../src/stores/store-decorator.js';
import { rejection } from '../../support/rejection.js';
import { migrating, SpyPool, stable, topology } from './support.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });

/** One shard call as the store saw it: its op, the driver options and the time its deadline left. */
interface Seen {
  readonly shardId: string;
  readonly op: StoreOp;
  readonly options: DriverCallOptions | undefined;
  readonly leftMs: number | undefined;
}

function recording(pool: SpyPool): Seen[] {
  const seen: Seen[] = [];
  pool.before = async (shardId, op) => {
    const deadline = currentDeadline();
    seen.push({ shardId, op, options: currentDriverOptions(), leftMs: deadline === undefined ? undefined : remainingMs(deadline) });
  };
  return seen;
}

/**
 * The documents of a read, whatever shape `find` answers in (an array today, a cursor once `find`
 * returns one): the one place that reads them.
 */
async function all(found: unknown): Promise<unknown[]> {
  const settled: unknown = await found;
  if (Array.isArray(settled)) return settled;
  return (settled as { toArray(): Promise<unknown[]> }).toArray();
}

async function seeded(state = stable(R1), pool = new SpyPool(['a', 'b', 'c', 'd'])) {
  const coll = new ShardedCollection({ name: 'o', routing: new StaticRoutingSource(stable(R1)), pool });
  await coll.insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: `k${i}`, n: i, g: i % 4 })));
  return { pool, coll: new ShardedCollection({ name: 'o', routing: new StaticRoutingSource(state), pool }) };
}

describe('ShardedCollection driver options', () => {
  describe('on reads', () => {
    it('carry readPreference, readConcern and comment to every shard call of find, findOne and countDocuments', async () => {
      const { pool, coll } = await seeded();
      const seen = recording(pool);
      const options = { readPreference: 'secondaryPreferred', readConcern: { level: 'local' }, comment: 'report-7' } as const;
      expect(await all(await coll.find({ g: 1 }, { ...options, sort: { n: 1 } }))).to.have.length(10);
      expect(await coll.findOne({ _id: 'k3' }, options)).to.deep.equal({ _id: 'k3', n: 3, g: 3 });
      expect(await coll.countDocuments({ g: 2 }, options)).to.equal(10);
      expect(seen.length).to.be.at.least(5);
      for (const s of seen) {
        expect(s.options?.kind, `${s.shardId} ${s.op}`).to.equal('read');
        expect(s.options?.comment).to.equal('report-7');
        expect((s.options?.readPreference as ReadPreference).mode).to.equal('secondaryPreferred');
        expect((s.options?.readConcern as { level?: string }).level).to.equal('local');
      }
    });

    it('leave calls without options as they were (no context, no deadline)', async () => {
      const { pool, coll } = await seeded();
      const seen = recording(pool);
      await coll.countDocuments({});
      expect(seen.every((s) => s.options === undefined && s.leftMs === undefined)).to.equal(true);
    });

    it('bound the whole call by maxTimeMS (shardkit.store.timeout past it)', async () => {
      const { pool, coll } = await seeded();
      const seen = recording(pool);
      await coll.countDocuments({}, { maxTimeMS: 5000 });
      expect(seen.every((s) => s.leftMs !== undefined && s.leftMs <= 5000 && s.leftMs > 0)).to.equal(true);
      pool.before = () => new Promise((resolve) => setTimeout(resolve, 60));
      const error = await rejection(all(coll.find({}, { maxTimeMS: 20 })));
      expect(error).to.have.property('code', ErrorCode.storeTimeout);
    });

    it("combine maxTimeMS with shardkit's own deadline: the earlier wins", async () => {
      const pool = new SpyPool(['a', 'b', 'c']);
      const coll = new ShardedCollection({ name: 'o', routing: new StaticRoutingSource(stable(R1)), pool, operationTimeoutMs: 10_000 });
      const seen = recording(pool);
      await coll.countDocuments({}, { maxTimeMS: 300 });
      expect(Math.max(...seen.map((s) => s.leftMs ?? Infinity))).to.be.at.most(300);
      seen.length = 0;
      const short = new ShardedCollection({ name: 'o', routing: new StaticRoutingSource(stable(R1)), pool, operationTimeoutMs: 200 });
      await short.countDocuments({}, { maxTimeMS: 60_000 });
      expect(Math.max(...seen.map((s) => s.leftMs ?? Infinity))).to.be.at.most(200);
    });
  });

  describe('on writes', () => {
    it('carry writeConcern and comment to the write, and never a read preference to its reads', async () => {
      const { pool, coll } = await seeded();
      const seen = recording(pool);
      const r = await coll.updateOne({ _id: 'k1' }, { $set: { n: 100 } }, { writeConcern: { w: 'majority' }, comment: 'w-7' });
      expect(r).to.deep.equal({ acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null });
      await coll.updateMany({ g: 1 }, { $inc: { n: 1 } }, { writeConcern: { w: 1, journal: true }, comment: 'w-8' });
      expect(seen.map((s) => s.op)).to.include.members(['updateOne', 'find', 'bulkWrite']);
      for (const s of seen) {
        expect(s.options?.kind, `${s.shardId} ${s.op}`).to.equal('write');
        expect(s.options?.readPreference).to.equal(undefined);
        expect(s.options?.comment).to.be.oneOf(['w-7', 'w-8']);
        const w = (s.options?.writeConcern as WriteConcern).w;
        expect(w).to.equal(s.options?.comment === 'w-7' ? 'majority' : 1);
      }
    });

    it("reach the migration protocol's own calls for a moving key (fence at the old owner, copy at the new)", async () => {
      const r1 = ShardRouter.fromTopology(R1);
      const r2 = ShardRouter.fromTopology(R2);
      const { pool, coll } = await seeded(migrating(R1, R2, 2));
      const moving = Array.from({ length: 40 }, (_, i) => `k${i}`).find((k) => r1.route(k) !== r2.route(k)) as string;
      const seen = recording(pool);
      await coll.deleteOne({ _id: moving }, { writeConcern: { w: 1 }, comment: 'del' });
      expect(seen.map((s) => s.op)).to.include.members(['fence', 'insertIfAbsent']);
      expect(seen.every((s) => s.options?.comment === 'del' && (s.options.writeConcern as WriteConcern).w === 1)).to.equal(true);
    });

    it('refuse an unacknowledged write concern (w: 0) before anything is sent', async () => {
      const { pool, coll } = await seeded();
      const seen = recording(pool);
      for (const call of [
        () => coll.insertOne({ _id: 'new' }, { writeConcern: { w: 0 } }),
        () => coll.updateOne({ _id: 'k1' }, { $set: { n: 0 } }, { writeConcern: { w: 0 } }),
        () => coll.deleteMany({}, { writeConcern: { w: 0 } }),
        () => coll.bulkWrite([{ deleteOne: { filter: { _id: 'k2' } } }], { writeConcern: { w: 0 } }),
        () => coll.findOneAndDelete({ _id: 'k2' }, { writeConcern: { w: 0 } }),
      ]) {
        expect(await rejection(call())).to.have.property('code', ErrorCode.unacknowledgedWrite);
      }
      expect(seen).to.deep.equal([]);
      expect(await coll.countDocuments({})).to.equal(40);
    });
  });

  it('refuses collation and hint with shardkit.option.unsupported, and malformed options as misuse', async () => {
    const { pool, coll } = await seeded();
    const seen = recording(pool);
    expect(await rejection(all(coll.find({ s: 'a' }, { collation: { locale: 'fr', strength: 1 } })))).to.have.property('code', ErrorCode.optionUnsupported);
    expect(await rejection(coll.countDocuments({}, { hint: { n: 1 } }))).to.have.property('code', ErrorCode.optionUnsupported);
    expect(await rejection(coll.updateOne({ _id: 'k1' }, { $set: { s: 'b' } }, { collation: { locale: 'en' } }))).to.have.property('code', ErrorCode.optionUnsupported);
    expect(await rejection(coll.countDocuments({}, { maxTimeMS: -1 }))).to.have.property('code', ErrorCode.invalidArgument);
    expect(await rejection(coll.countDocuments({}, { readPreference: 'nearestish' as never }))).to.have.property('code', ErrorCode.invalidArgument);
    expect(seen).to.deep.equal([]);
  });

  describe('#estimatedDocumentCount', () => {
    it("sums every shard's own estimate", async () => {
      const { pool, coll } = await seeded();
      const seen = recording(pool);
      expect(await coll.estimatedDocumentCount({ comment: 'est' })).to.equal(40);
      expect(seen.filter((s) => s.op === 'estimatedDocumentCount').map((s) => s.options?.comment)).to.deep.equal(['est', 'est', 'est']);
    });

    it('counts what the shards hold while a range moves: fenced copies and their copies too (an estimate)', async () => {
      const r1 = ShardRouter.fromTopology(R1);
      const r2 = ShardRouter.fromTopology(R2);
      const { pool, coll } = await seeded(migrating(R1, R2, 2));
      const moving = Array.from({ length: 40 }, (_, i) => `k${i}`).filter((k) => r1.route(k) !== r2.route(k));
      expect(moving.length).to.be.greaterThan(0);
      // Written after the copier fenced them, they are copied to their new owners (ADR 0002).
      for (const k of moving) {
        await pool.raw(r1.route(k)).fence([{ id: k, h: r2.point(k) }], 2);
        await coll.updateOne({ _id: k }, { $inc: { n: 1 } });
      }
      expect(await coll.countDocuments({})).to.equal(40);
      expect(await coll.estimatedDocumentCount()).to.equal(40 + moving.length);
    });
  });

  it('answers with the driver result shapes: acknowledged, insertedIds by index, a bulk ok', async () => {
    const pool = new SpyPool(['a', 'b', 'c']);
    const coll = new ShardedCollection({ name: 'o', routing: new StaticRoutingSource(stable(R1)), pool });
    expect(await coll.insertOne({ _id: 'x1' })).to.deep.equal({ acknowledged: true, insertedId: 'x1' });
    expect(await coll.insertMany([{ _id: 'x2' }, { _id: 'x3' }])).to.deep.equal({ acknowledged: true, insertedCount: 2, insertedIds: { 0: 'x2', 1: 'x3' } });
    expect(await coll.replaceOne({ _id: 'x2' }, { v: 1 })).to.deep.equal({ acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null });
    expect(await coll.updateMany({}, { $set: { v: 2 } })).to.deep.equal({ acknowledged: true, matchedCount: 3, modifiedCount: 3, upsertedCount: 0, upsertedId: null });
    expect(await coll.deleteOne({ _id: 'x1' })).to.deep.equal({ acknowledged: true, deletedCount: 1 });
    expect(await coll.deleteMany({})).to.deep.equal({ acknowledged: true, deletedCount: 2 });
    const bulk = await coll.bulkWrite([{ insertOne: { document: { _id: 'y' } } }, { deleteMany: { filter: { _id: 'none' } } }]);
    expect(bulk).to.include({ ok: 1, insertedCount: 1, deletedCount: 0 });
  });
});
