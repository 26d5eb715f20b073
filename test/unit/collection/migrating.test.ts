import { expect } from 'chai';
import fc from 'fast-check';
import type { Document } from 'mongodb';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { copyForTarget } from '../../../src/collection/documents.js';
import { NewOwnerHints } from '../../../src/collection/new-owner.js';
import { ErrorCode, ShardkitError, ShardkitInputError } from '../../../src/errors.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { StoreMetrics } from '../../../src/metrics/store-metrics.js';
import { wrapStore } from '../../../src/stores/instrumented-store.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import type { Topology } from '../../../src/topology/topology.js';
import type { TopologySpec } from '../../../src/topology/types.js';
import { LaggingSource, migrating, SpyPool, stable, topology } from './support.js';
import { rejection } from '../../support/rejection.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
const EPOCH = 2;
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);

/** Keys 0..n-1 split by whether their owner changes from R1 to R2. */
function keys(n: number): { moving: number[]; staying: number[] } {
  const moving: number[] = [];
  const staying: number[] = [];
  for (let i = 0; i < n; i++) (r1.route(i) === r2.route(i) ? staying : moving).push(i);
  return { moving, staying };
}

const { moving, staying } = keys(400);

/** A pool seeded through a stable(R1) collection, and a collection on migrating(R1 -> R2). */
async function seeded(ids: readonly number[]) {
  const pool = new SpyPool(['a', 'b', 'c', 'd']);
  const before = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(stable(R1)), pool });
  await before.insertMany(ids.map((i) => ({ _id: i, b: i % 3, n: i })));
  const source = new StaticRoutingSource(migrating(R1, R2, EPOCH));
  const coll = new ShardedCollection({ name: 'm', routing: source, pool });
  const oldOf = (id: number): MemoryStore => pool.raw(r1.route(id));
  const newOf = (id: number): MemoryStore => pool.raw(r2.route(id));
  /** What the migrator's copier does to one key. */
  const copy = async (id: number): Promise<void> => {
    const [fenced] = await oldOf(id).fence([{ id, h: r2.point(id) }], EPOCH);
    if (fenced !== undefined && fenced._ph === undefined) await newOf(id).insertIfAbsent([copyForTarget(fenced)]);
  };
  return { pool, coll, source, oldOf, newOf, copy };
}

describe('ShardedCollection while migrating', () => {
  it('has keys that move and keys that stay in the fixture', () => {
    expect(moving.length).to.be.greaterThan(20);
    expect(staying.length).to.be.greaterThan(20);
    for (const id of moving) expect(r2.route(id)).to.equal('d');
  });

  describe('#findOne', () => {
    it('reads the old owner for a key not copied yet, fenced or not', async () => {
      const [k1, k2] = moving as [number, number];
      const { coll, oldOf } = await seeded([k1, k2]);
      await oldOf(k2).fence([{ id: k2, h: r2.point(k2) }], EPOCH);
      expect(await coll.findOne({ _id: k1 })).to.deep.equal({ _id: k1, b: k1 % 3, n: k1 });
      expect(await coll.findOne({ _id: k2 })).to.deep.equal({ _id: k2, b: k2 % 3, n: k2 });
    });

    it('reads the new owner once the key is there, whatever the old copy says', async () => {
      const [k] = moving as [number];
      const { coll, copy, newOf } = await seeded([k]);
      await copy(k);
      await newOf(k).updateOne({ _id: k }, { $set: { n: -1 } });
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, b: k % 3, n: -1 });
    });

    it('reads both owners of a key not copied yet at once: one round trip, not two', async () => {
      const [k] = moving as [number];
      const { coll, pool, oldOf } = await seeded([k]);
      const old = r1.route(k);
      let inFlight = 0;
      let most = 0;
      pool.before = async (shardId, op) => {
        if (op !== 'get' || (shardId !== old && shardId !== 'd')) return;
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
      };
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, b: k % 3, n: k });
      expect(most, 'reads in flight at once').to.equal(2);
      await oldOf(k).fence([{ id: k, h: r2.point(k) }], EPOCH);
      most = 0;
      expect(await coll.findOne({ _id: k }), 'fenced, not copied').to.deep.equal({ _id: k, b: k % 3, n: k });
      expect(most).to.equal(2);
    });

    it('answers from the new owner once it holds the key, without waiting for the old owner', async () => {
      const [k] = moving as [number];
      const { coll, pool, copy } = await seeded([k]);
      await copy(k);
      const old = r1.route(k);
      let release: () => void = () => undefined;
      // The old owner does not answer until the test lets it: the read must not wait for it.
      pool.before = (shardId, op) => (shardId === old && op === 'get' ? new Promise<void>((r) => (release = r)) : Promise.resolve());
      try {
        expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, b: k % 3, n: k });
        expect(pool.count(old, 'get'), 'the old owner was asked as well').to.equal(1);
      } finally {
        release();
      }
    });

    it('does not let a failed read of the old owner fail a read the new owner answers', async () => {
      const [k] = moving as [number];
      const { coll, pool, copy } = await seeded([k]);
      await copy(k);
      const old = r1.route(k);
      pool.before = async (shardId, op) => {
        if (shardId === old && op === 'get') throw new Error('old owner down');
      };
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, b: k % 3, n: k });
    });

    it('answers not found for a tombstone at the new owner and for a placeholder at the old one', async () => {
      const [k1, k2] = moving as [number, number];
      const { coll, copy, newOf, oldOf } = await seeded([k1]);
      await copy(k1);
      await newOf(k1).tombstone(k1, r2.point(k1), 2);
      await oldOf(k2).fence([{ id: k2, h: r2.point(k2) }], EPOCH);
      expect(await coll.findOne({ _id: k1 })).to.equal(null);
      expect(await coll.findOne({ _id: k2 })).to.equal(null);
      expect(await coll.countDocuments({ _id: k1 })).to.equal(0);
    });

    it('routes a key that stays exactly as when stable', async () => {
      const [s] = staying as [number];
      const { coll, pool } = await seeded([s]);
      pool.resetCounts();
      expect(await coll.findOne({ _id: s })).to.deep.equal({ _id: s, b: s % 3, n: s });
      expect(pool.count('d', 'get')).to.equal(0);
    });
  });

  describe('writes to a moving key', () => {
    it('updateOne of a key the copier has not reached writes it at the old owner, in one call there', async () => {
      const [k] = moving as [number];
      const { pool, coll, oldOf, newOf, copy } = await seeded([k]);
      pool.resetCounts();
      const r = await coll.updateOne({ _id: k }, { $inc: { n: 1000 } });
      expect(r).to.include({ matchedCount: 1, modifiedCount: 1 });
      const [from, to] = [r1.route(k), r2.route(k)];
      // The old owner took the write; the new owner was only read (ADR 0002, decision 8).
      expect(pool.counts(from)).to.deep.equal({ updateOne: 1 });
      expect(pool.counts(to)).to.deep.equal({ get: 1 });
      expect(await oldOf(k).get(k)).to.include({ n: k + 1000, _v: 2 }).and.not.have.property('_moved');
      expect(await newOf(k).get(k)).to.equal(null);
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, b: k % 3, n: k + 1000 });
      // The copier's fence, when it comes, carries the write with the body.
      await copy(k);
      expect(await newOf(k).get(k)).to.include({ n: k + 1000, _v: 2 });
    });

    it('updateOne of a key fenced at the old owner copies it, then updates at the new owner', async () => {
      const [k] = moving as [number];
      const { coll, oldOf, newOf } = await seeded([k]);
      // A fence whose copy is in flight (the copier's, or a router's that died before copying).
      await oldOf(k).fence([{ id: k, h: r2.point(k) }], EPOCH);
      const r = await coll.updateOne({ _id: k }, { $inc: { n: 1000 } });
      expect(r.matchedCount).to.equal(1);
      expect(await oldOf(k).get(k)).to.include({ _moved: EPOCH, n: k, _v: 1 });
      expect(await newOf(k).get(k)).to.deep.include({ n: k + 1000, _v: 2, _h: r2.point(k) });
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, b: k % 3, n: k + 1000 });
    });

    it('updateOne of a key the new owner holds writes it there, whatever the old owner answered', async () => {
      const [k1, k2] = moving as [number, number];
      const { coll, oldOf, newOf, copy } = await seeded([k1]);
      await copy(k1);
      expect((await coll.updateOne({ _id: k1 }, { $inc: { n: 1 } })).modifiedCount).to.equal(1);
      expect(await newOf(k1).get(k1)).to.include({ n: k1 + 1, _v: 2 });
      expect(await oldOf(k1).get(k1)).to.include({ n: k1, _moved: EPOCH });
      // A key at neither owner: no upsert, nothing written, nothing matched.
      expect((await coll.updateOne({ _id: k2 }, { $set: { n: 1 } })).matchedCount).to.equal(0);
      expect(await newOf(k2).get(k2)).to.equal(null);
    });

    it('sends a later update of a key it found at the new owner there first, in one call', async () => {
      const [k1, k2] = moving as [number, number];
      const { pool, coll, copy, oldOf, newOf } = await seeded([k1, k2]);
      await copy(k1);
      await copy(k2);
      // The first update learns where k1 is (turned away at the old owner); a read teaches k2's place.
      await coll.updateOne({ _id: k1 }, { $inc: { n: 1 } });
      await coll.findOne({ _id: k2 });
      pool.resetCounts();
      expect((await coll.updateOne({ _id: k1 }, { $inc: { n: 1 } })).modifiedCount).to.equal(1);
      expect((await coll.replaceOne({ _id: k2 }, { n: 0 })).modifiedCount).to.equal(1);
      expect(pool.counts(r1.route(k1))).to.deep.equal({});
      expect(pool.counts(r2.route(k1))).to.deep.equal({ updateOne: 1, replaceOne: 1 });
      expect(await newOf(k1).get(k1)).to.include({ n: k1 + 2, _v: 3 });
      expect(await oldOf(k1).get(k1)).to.include({ n: k1, _moved: EPOCH });
      // A hinted write the new owner does not match goes the usual way and matches nothing either.
      expect((await coll.updateOne({ _id: k1, n: -1 }, { $set: { z: 1 } })).matchedCount).to.equal(0);
      expect(await newOf(k1).get(k1)).to.not.have.property('z');
    });

    it('forgets the keys it found at new owners when the epoch changes or when they fill it up', () => {
      const hints = new NewOwnerHints(2);
      hints.note(EPOCH, 1);
      hints.note(EPOCH, 'a');
      expect([hints.has(EPOCH, 1), hints.has(EPOCH, '1'), hints.has(EPOCH, 'a'), hints.has(EPOCH + 1, 1)]).to.deep.equal([true, false, true, false]);
      hints.note(EPOCH, 2);
      expect([hints.has(EPOCH, 1), hints.has(EPOCH, 2)], 'full: forgotten, then the new key').to.deep.equal([false, true]);
      hints.note(EPOCH + 1, 3);
      expect([hints.has(EPOCH, 2), hints.has(EPOCH + 1, 3)]).to.deep.equal([false, true]);
    });

    it('a write the old owner turns away for its filter goes on to the new owner and matches nothing there', async () => {
      const [k] = moving as [number];
      const { coll, oldOf, newOf } = await seeded([k]);
      expect((await coll.updateOne({ _id: k, n: -1 }, { $set: { z: 1 } })).matchedCount).to.equal(0);
      expect(await newOf(k).get(k)).to.include({ n: k }).and.not.have.property('z');
      expect(await oldOf(k).get(k)).to.include({ _moved: EPOCH });
    });

    it('replaceOne replaces the key where it is; an upsert of a new key lands at the new owner only', async () => {
      const [k1, k2] = moving as [number, number];
      const { coll, oldOf, newOf } = await seeded([k1]);
      await coll.replaceOne({ _id: k1 }, { z: 1 });
      expect(await oldOf(k1).get(k1)).to.include({ z: 1, _v: 2 }).and.not.have.property('_moved');
      expect(await coll.findOne({ _id: k1 })).to.deep.equal({ _id: k1, z: 1 });
      // An upsert that finds the key at the old owner updates it there, as any update does.
      expect((await coll.updateOne({ _id: k1 }, { $set: { y: 1 } }, { upsert: true })).upsertedCount).to.equal(0);
      expect(await oldOf(k1).get(k1)).to.include({ z: 1, y: 1, _v: 3 });
      await coll.updateOne({ _id: k2 }, { $set: { z: 2 } }, { upsert: true });
      expect(await oldOf(k2).get(k2)).to.include({ _ph: true, _moved: EPOCH });
      expect(await newOf(k2).get(k2)).to.include({ z: 2, _h: r2.point(k2) });
    });

    it('deleteOne leaves a tombstone at the new owner so the fenced copy cannot resurface', async () => {
      const [k] = moving as [number];
      const { coll, oldOf, newOf } = await seeded([k]);
      expect(await coll.deleteOne({ _id: k })).to.deep.equal({ acknowledged: true, deletedCount: 1 });
      expect(await oldOf(k).get(k)).to.include({ _moved: EPOCH });
      expect(await newOf(k).get(k)).to.deep.equal({ _id: k, _h: r2.point(k), _v: 2, _ts: true });
      expect(await coll.findOne({ _id: k })).to.equal(null);
      expect(await coll.find({}).toArray()).to.deep.equal([]);
      expect(await coll.countDocuments({})).to.equal(0);
      expect(await coll.deleteOne({ _id: k })).to.deep.equal({ acknowledged: true, deletedCount: 0 });
      expect((await coll.updateOne({ _id: k }, { $set: { n: 1 } })).matchedCount).to.equal(0);
    });

    it('deleteOne with a filter that does not match deletes nothing', async () => {
      const [k] = moving as [number];
      const { coll } = await seeded([k]);
      expect(await coll.deleteOne({ _id: k, n: -5 })).to.deep.equal({ acknowledged: true, deletedCount: 0 });
      expect(await coll.findOne({ _id: k })).to.not.equal(null);
    });

    it('insertOne fails as a duplicate when the old owner still holds the key', async () => {
      const [k] = moving as [number];
      const { coll, oldOf, newOf } = await seeded([k]);
      const e = await rejection(coll.insertOne({ _id: k }));
      expect(e.code).to.equal(ErrorCode.storeDuplicateKey);
      expect(await oldOf(k).get(k)).to.include({ _moved: EPOCH });
      expect(await newOf(k).get(k)).to.include({ n: k });
    });

    it('insertOne of a fresh key leaves a placeholder at the old owner', async () => {
      const [k] = moving as [number];
      const { coll, oldOf, newOf } = await seeded([]);
      await coll.insertOne({ _id: k, n: 1 });
      expect(await oldOf(k).get(k)).to.deep.equal({ _id: k, _h: r2.point(k), _v: 0, _moved: EPOCH, _ph: true });
      expect(await newOf(k).get(k)).to.include({ n: 1, _v: 1 });
    });

    it('insertOne after a delete replaces the tombstone, with a newer version', async () => {
      const [k] = moving as [number];
      const { coll, newOf } = await seeded([k]);
      await coll.deleteOne({ _id: k });
      await coll.insertOne({ _id: k, n: 7 });
      const stored = await newOf(k).get(k);
      expect(stored).to.include({ n: 7 });
      expect(stored?._ts).to.equal(undefined);
      expect(stored?._v).to.be.greaterThan(2);
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, n: 7 });
      expect((await rejection(coll.insertOne({ _id: k }))).code).to.equal(ErrorCode.storeDuplicateKey);
    });

    it('re-inserts over a tombstone in one store call through wrapped stores (never delete-then-insert)', async () => {
      const [k] = moving as [number];
      const { pool } = await seeded([k]);
      const metrics = new StoreMetrics();
      // The stack an application gets from connectShardedCollection: resilience and metrics around each store.
      const wrapped = { store: (id: string) => wrapStore(pool.store(id), { metrics, resilience: { opTimeoutMs: 0 } }) };
      const coll = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(migrating(R1, R2, EPOCH)), pool: wrapped });
      await coll.deleteOne({ _id: k });
      pool.resetCounts();
      await coll.insertOne({ _id: k, n: 8 });
      await coll.updateOne({ _id: k }, { $set: { n: 9 } });
      await coll.deleteOne({ _id: k });
      await coll.updateOne({ _id: k }, { $set: { n: 10 } }, { upsert: true });
      const target = r2.route(k);
      expect(pool.count(target, 'replaceTombstone')).to.equal(2);
      expect(pool.count(target, 'deleteRange')).to.equal(0);
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, n: 10 });
    });

    it('an upsert over a tombstone creates the document', async () => {
      const [k] = moving as [number];
      const { coll } = await seeded([k]);
      await coll.deleteOne({ _id: k });
      const r = await coll.updateOne({ _id: k, b: 9 }, { $set: { n: 3 } }, { upsert: true });
      expect(r.upsertedCount).to.equal(1);
      expect(await coll.findOne({ _id: k })).to.deep.equal({ _id: k, b: 9, n: 3 });
    });
  });

  context('when the pool reaches only the shards it was told about', () => {
    /** Like `MongoShardPool`: a store for a shard id only after a topology naming it was added. */
    class LearningPool {
      readonly known = new Set<string>();
      readonly inner: SpyPool;
      constructor(inner: SpyPool, first: Topology) {
        this.inner = inner;
        this.addTopology(first.toJSON());
      }
      addTopology(spec: TopologySpec): void {
        for (const shard of spec.shards) this.known.add(shard.id);
      }
      store(id: string): ShardStore {
        if (!this.known.has(id)) throw new ShardkitInputError(ErrorCode.topologyUnknownShard, `unknown shard '${id}'`, { shardId: id });
        return this.inner.store(id);
      }
    }

    it('learns the shards of every routing state it follows, before it asks for their stores', async () => {
      const [k1, k2] = moving as [number, number];
      const { pool } = await seeded([k1]);
      const learning = new LearningPool(pool, R1);
      // The pool was built from R1; the operator then added shard d (R2) and a migration started.
      const source = new LaggingSource(stable(R1), migrating(R1, R2, EPOCH));
      const coll = new ShardedCollection({ name: 'm', routing: source, pool: learning });
      expect(await coll.findOne({ _id: k1 })).to.include({ _id: k1 });
      await source.refresh(); // what a follower's background refresh does
      await coll.updateOne({ _id: k1 }, { $set: { n: 1 } });
      await coll.insertOne({ _id: k2, n: 2 });
      expect(learning.known.has('d')).to.equal(true);
      expect(await pool.raw('d').get(k2)).to.include({ n: 2 });
      expect(await coll.findOne({ _id: k1 })).to.include({ n: 1 });
      expect(await coll.findOne({ _id: k2 })).to.deep.equal({ _id: k2, n: 2 });
      const stableAfter = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(stable(R2, EPOCH + 1)), pool: new LearningPool(pool, R1) });
      expect(await stableAfter.findOne({ _id: k2 })).to.deep.equal({ _id: k2, n: 2 });
    });
  });

  context('when a router is still on the old epoch', () => {
    it('is turned away by the fence at the old owner, refreshes and writes at the new owner', async () => {
      const [k1, k2, k3, k4] = moving as [number, number, number, number];
      const { pool, coll, newOf, copy } = await seeded([k1, k2, k3]);
      // The copier fences them at their old owners first; the up-to-date router then writes them.
      for (const k of [k1, k2, k3]) await copy(k);
      await coll.updateOne({ _id: k1 }, { $set: { seen: 1 } });
      await coll.updateOne({ _id: k2 }, { $set: { seen: 1 } });
      await coll.updateOne({ _id: k3 }, { $set: { seen: 1 } });
      await coll.findOne({ _id: k4 }).then(() => coll.updateOne({ _id: k4 }, { $set: { x: 1 } }, { upsert: true }));

      const lagging = () => new LaggingSource(stable(R1), migrating(R1, R2, EPOCH));
      const sources = [lagging(), lagging(), lagging(), lagging(), lagging()];
      const stale = sources.map((routing) => new ShardedCollection({ name: 'm', routing, pool }));

      expect((await stale[0]!.updateOne({ _id: k1 }, { $inc: { n: 1 } })).matchedCount).to.equal(1);
      expect(await newOf(k1).get(k1)).to.include({ n: k1 + 1, seen: 1 });
      expect(await stale[1]!.findOne({ _id: k2 })).to.deep.equal({ _id: k2, b: k2 % 3, n: k2, seen: 1 });
      expect(await stale[2]!.deleteOne({ _id: k3 })).to.deep.equal({ acknowledged: true, deletedCount: 1 });
      expect(await newOf(k3).get(k3)).to.include({ _ts: true });
      const dup = await rejection(stale[3]!.insertOne({ _id: k4 }));
      expect(dup.code).to.equal(ErrorCode.storeDuplicateKey);
      // A scatter-gather sees the fences it meets (here: the old copies match {}); one whose filter
      // matches no fenced copy cannot tell it is behind, and stays bounded by the routing lease.
      expect((await stale[4]!.find({}, { sort: { _id: 1 } }).toArray()).map((d) => d['_id'])).to.deep.equal([k1, k2, k4].sort((a, b) => a - b));
      for (const s of sources) expect(s.refreshes).to.equal(1);
      for (const c of stale) expect(c.redirects).to.equal(1);
    });

    it('gives up with shardkit.router.redirectLimit when refreshing never helps', async () => {
      const [k] = moving as [number];
      const { pool, copy } = await seeded([k]);
      await copy(k);
      const routing = new LaggingSource(stable(R1), stable(R1), true);
      const stuck = new ShardedCollection({ name: 'm', routing, pool, maxRedirects: 2 });
      const e = await rejection(stuck.updateOne({ _id: k }, { $set: { n: 0 } }));
      expect(e.code).to.equal(ErrorCode.redirectLimit);
      expect(e.shardId).to.equal(r1.route(k));
      expect(routing.refreshes).to.equal(2);
      expect((await rejection(stuck.findOne({ _id: k }))).code).to.equal(ErrorCode.redirectLimit);
    });
  });

  describe('#find', () => {
    it('merges old and new owners by the ownership rule, equal to one collection (property)', async () => {
      const subset = moving.slice(0, 12).concat(staying.slice(0, 12));
      const action = fc.oneof(
        fc.record({ kind: fc.constant('copy' as const), id: fc.constantFrom(...moving.slice(0, 12)) }),
        fc.record({ kind: fc.constant('set' as const), id: fc.constantFrom(...subset), b: fc.integer({ min: 0, max: 2 }) }),
        fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...subset) }),
        fc.record({ kind: fc.constant('insert' as const), id: fc.constantFrom(...moving.slice(12, 20), ...staying.slice(12, 16)), b: fc.integer({ min: 0, max: 2 }) }),
      );
      const query = fc.record({
        filter: fc.constantFrom<Document>({}, { b: 0 }, { b: { $gte: 1 } }, { n: { $lt: 100 } }),
        dir: fc.constantFrom<1 | -1>(1, -1),
        skip: fc.nat(4),
        limit: fc.nat(6),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(action, { maxLength: 25 }), query, async (actions, q) => {
          const { coll, copy } = await seeded(subset);
          const reference = new MemoryStore('reference');
          for (const i of subset) await reference.insert({ _id: i, b: i % 3, n: i, _h: 0, _v: 1 });
          for (const a of actions) {
            if (a.kind === 'copy') await copy(a.id);
            else if (a.kind === 'set') {
              await coll.updateOne({ _id: a.id }, { $set: { b: a.b } });
              await reference.updateOne({ _id: a.id }, { $set: { b: a.b } });
            } else if (a.kind === 'delete') {
              await coll.deleteOne({ _id: a.id });
              await reference.deleteOne({ _id: a.id });
            } else {
              const ok = await coll.insertOne({ _id: a.id, b: a.b, n: a.id }).then(
                () => true,
                (e: unknown) => (e as ShardkitError).code === ErrorCode.storeDuplicateKey,
              );
              expect(ok).to.equal(true);
              await reference.insert({ _id: a.id, b: a.b, n: a.id, _h: 0, _v: 1 }).catch(() => undefined);
            }
          }
          const sort = { b: q.dir, _id: 1 as const };
          const opts = { sort, skip: q.skip, ...(q.limit > 0 ? { limit: q.limit } : {}) };
          const expected = (await reference.find(q.filter, opts)).map(({ _h, _v, ...d }) => d);
          expect(await coll.find(q.filter, { sort, skip: q.skip, limit: q.limit }).toArray()).to.deep.equal(expected);
          expect(await coll.countDocuments(q.filter)).to.equal(await reference.count(q.filter));
        }),
        { numRuns: 80 },
      );
    });

    it('returns only the new owner version even when it no longer matches the filter', async () => {
      const [k] = moving as [number];
      const { coll, oldOf, copy } = await seeded([k]);
      await copy(k);
      await coll.updateOne({ _id: k }, { $set: { b: 99 } });
      expect(await oldOf(k).get(k)).to.include({ b: k % 3, _moved: EPOCH });
      expect(await coll.find({ b: k % 3 }).toArray()).to.deep.equal([]);
      expect(await coll.countDocuments({ b: k % 3 })).to.equal(0);
    });

    it('keeps asking a shard when dropped fenced copies leave it short of skip + limit', async () => {
      const ids = moving.filter((id) => r1.route(id) === 'a').slice(0, 6);
      const { coll, copy } = await seeded(ids);
      for (const id of ids.slice(0, 4)) {
        await copy(id);
        await coll.updateOne({ _id: id }, { $set: { b: 7 } });
      }
      const rest = ids.slice(4).sort((x, y) => x - y);
      expect((await coll.find({ b: { $lt: 7 } }, { sort: { _id: 1 }, limit: 2 }).toArray()).map((d) => d['_id'])).to.deep.equal(rest);
    });
  });

  context('when an abort runs the migration back (R2 -> R1) over relics of the forward leg', () => {
    /**
     * Three keys fenced at their R1 owners by the forward leg: k1 never copied (its relic holds the only
     * data), k2 copied and updated at d, k3 deleted at d (a tombstone); and a collection on the reverse leg.
     */
    async function relicLayout() {
      const [k1, k2, k3] = moving as [number, number, number];
      const { pool, copy, oldOf, newOf } = await seeded([k1, k2, k3]);
      for (const k of [k1, k2, k3]) await oldOf(k).fence([{ id: k, h: r2.point(k) }], EPOCH);
      await copy(k2);
      await newOf(k2).updateOne({ _id: k2 }, { $set: { n: -2 } });
      await newOf(k3).tombstone(k3, r2.point(k3), 2);
      const back = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(migrating(R2, R1, EPOCH + 1)), pool });
      return { back, k1, k2, k3 };
    }

    it('reads a relic only where the old owner holds neither data nor a tombstone', async () => {
      const { back, k1, k2, k3 } = await relicLayout();
      expect(await back.findOne({ _id: k1 })).to.deep.equal({ _id: k1, b: k1 % 3, n: k1 });
      expect(await back.findOne({ _id: k2 })).to.deep.equal({ _id: k2, b: k2 % 3, n: -2 });
      expect(await back.findOne({ _id: k3 })).to.equal(null);
    });

    // Model test seed 66564: a scatter-gather dropped every relic, and an updateMany skipped a key that
    // existed throughout (a router of the forward leg had fenced it and died before copying it).
    it('counts a relic in scatter-gather reads and multi-writes only where the old owner holds neither data nor a tombstone', async () => {
      const { back, k1, k2, k3 } = await relicLayout();
      const all = { _id: { $in: [k1, k2, k3] } };
      const want = [{ _id: k1, b: k1 % 3, n: k1 }, { _id: k2, b: k2 % 3, n: -2 }].sort((x, y) => x._id - y._id);
      expect(await back.find(all, { sort: { _id: 1 } }).toArray()).to.deep.equal(want);
      expect(await back.countDocuments(all)).to.equal(2);
      expect((await back.updateMany(all, { $inc: { n: 100 } })).matchedCount).to.equal(2);
      expect(await back.findOne({ _id: k1 })).to.include({ n: k1 + 100 });
      expect(await back.findOne({ _id: k2 })).to.include({ n: 98 });
    });

    // Found by reasoning while the two reads went concurrent: the old owner answered "nothing" before a
    // writer took the relic back (its data copied there, then the relic deleted), and the new owner was
    // read inside that window: nothing at either, where the key held its data throughout.
    it('reads the data a writer is taking back from a relic, whichever owner answers first', async () => {
      const [k] = moving as [number];
      const { pool, oldOf, newOf } = await seeded([k]);
      // Forward leg: a router fenced k at its R1 owner and died before copying it to d: a relic with data there.
      await oldOf(k).fence([{ id: k, h: r2.point(k) }], EPOCH);
      const back = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(migrating(R2, R1, EPOCH + 1)), pool });
      const relicAt = r1.route(k);
      let oldAnswered: () => void = () => undefined;
      const answered = new Promise<void>((r) => (oldAnswered = r));
      pool.after = (shardId, op) => {
        if (shardId === 'd' && op === 'get') oldAnswered();
      };
      pool.before = async (shardId, op) => {
        if (shardId !== relicAt || op !== 'get') return;
        pool.before = undefined;
        await answered;
        // A writer's takeBackRelic, up to the window between deleting the relic and installing d's entry.
        const relic = (await oldOf(k).get(k))!;
        await newOf(k).insertIfAbsent([copyForTarget(relic)]);
        await newOf(k).fence([{ id: k, h: r1.point(k) }], EPOCH + 1);
        await oldOf(k).deleteRange({ start: r1.point(k) - 1, end: r1.point(k) }, { _id: k, _moved: { $lt: EPOCH + 1 } }, 1);
      };
      expect(await back.findOne({ _id: k })).to.deep.equal({ _id: k, b: k % 3, n: k });
    });

    it('writes keys the reverse copier has not reached yet, taking over what the old owner holds', async () => {
      const [k1, k2, k3, k4, k5] = moving as [number, number, number, number, number];
      const { pool, copy, oldOf, newOf } = await seeded([k1, k2, k3, k4]);
      // Forward leg: k1 copied and updated at d; k2 copied and deleted at d; k3 fenced by a router that
      // died before copying; k4 copied untouched; k5 never existed (a placeholder relic).
      await copy(k1);
      await newOf(k1).updateOne({ _id: k1 }, { $set: { n: -1 } });
      await copy(k2);
      await newOf(k2).tombstone(k2, r2.point(k2), 2);
      await oldOf(k3).fence([{ id: k3, h: r2.point(k3) }], EPOCH);
      await copy(k4);
      await oldOf(k5).fence([{ id: k5, h: r2.point(k5) }], EPOCH);
      const back = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(migrating(R2, R1, EPOCH + 1)), pool, maxRedirects: 0 });

      // k1's only unfenced copy is at d, the reverse leg's old owner: the update goes there, and the
      // relic stays for the reverse copier (ADR 0002, decision 8).
      expect((await back.updateOne({ _id: k1 }, { $inc: { n: 10 } })).modifiedCount).to.equal(1);
      expect(await back.findOne({ _id: k1 })).to.deep.equal({ _id: k1, b: k1 % 3, n: 9 });
      expect(await newOf(k1).get(k1)).to.include({ n: 9 }).and.not.have.property('_moved');
      expect(await oldOf(k1).get(k1)).to.include({ n: k1, _moved: EPOCH });

      expect((await back.updateOne({ _id: k2 }, { $inc: { n: 10 } })).matchedCount).to.equal(0);
      expect(await back.findOne({ _id: k2 })).to.equal(null);
      await back.insertOne({ _id: k2, n: 2 });
      expect(await back.findOne({ _id: k2 })).to.deep.equal({ _id: k2, n: 2 });

      expect((await back.replaceOne({ _id: k3 }, { n: 33 })).modifiedCount).to.equal(1);
      expect(await back.findOne({ _id: k3 })).to.deep.equal({ _id: k3, n: 33 });
      expect(await newOf(k3).get(k3)).to.include({ n: k3, _moved: EPOCH + 1 });

      expect(await back.deleteOne({ _id: k4 })).to.deep.equal({ acknowledged: true, deletedCount: 1 });
      expect(await back.findOne({ _id: k4 })).to.equal(null);

      await back.insertOne({ _id: k5, n: 5 });
      expect(await back.findOne({ _id: k5 })).to.deep.equal({ _id: k5, n: 5 });
      expect(back.redirects).to.equal(0);
      // Nothing is left for the reverse copier to carry but k1: every key it moved is fenced at d with the reverse epoch.
      for (const k of [k2, k3, k4, k5]) expect((await newOf(k).get(k))?._moved, String(k)).to.equal(EPOCH + 1);
    });

    it('leaves a relic alone for reads and for a fence newer than the router', async () => {
      const [k1] = moving as [number];
      const { pool, copy, oldOf } = await seeded([k1]);
      await copy(k1);
      const lagging = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(migrating(R2, R1, EPOCH)), pool, maxRedirects: 0 });
      // A fence at the new owner with the router's own epoch is not a relic: it means the router is behind.
      const error = await rejection(lagging.deleteOne({ _id: k1 }));
      expect(error.code).to.equal(ErrorCode.redirectLimit);
      expect(await oldOf(k1).get(k1)).to.include({ _moved: EPOCH });
    });
  });

  context('when stable again after the migration, before cleanup', () => {
    it('skips the fenced leftovers at the old owners', async () => {
      const ids = [...moving.slice(0, 5), ...staying.slice(0, 5)];
      const { pool, copy } = await seeded(ids);
      for (const id of moving.slice(0, 5)) await copy(id);
      const after = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(stable(R2, EPOCH + 1)), pool });
      const all = await after.find({}, { sort: { _id: 1 } }).toArray();
      expect(all.map((d) => d['_id'])).to.deep.equal([...ids].sort((x, y) => x - y));
      expect(await after.countDocuments({})).to.equal(ids.length);
    });
  });
});
