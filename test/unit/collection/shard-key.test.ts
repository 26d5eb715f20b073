/**
 * Shard keys other than `_id` (ADR 0008), rule by rule, on embedded shards. Each test fails on the
 * code before shard keys: there every document routed by `_id`, so `_h` was the point of the `_id`,
 * a filter on `tenant` scattered, and filters without `_id` were refused.
 */
import { expect } from 'chai';
import { ObjectId } from 'mongodb';
import { Registry } from 'prom-client';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ErrorCode } from '../../../src/errors.js';
import { StoreMetrics } from '../../../src/metrics/store-metrics.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { Topology } from '../../../src/topology/topology.js';
import { metricValue } from '../../support/metric-value.js';
import { rejection } from '../../support/rejection.js';
import { dump, migrating, SpyPool } from './support.js';

const IDS = ['a', 'b', 'c', 'd'];

function keyed(ids: readonly string[], shardKey: string, epoch = 1): Topology {
  return Topology.from({ name: 'unit', epoch, hash: 'xxhash32', vnodes: 32, placement: 'hashed', shards: ids.map((id) => ({ id, weight: 1 })), shardKey });
}

interface Doc {
  _id?: unknown;
  tenant?: unknown;
  n?: number;
  name?: string;
  account?: { id?: unknown; plan?: string };
}

/** Every read of this file, through `find`'s cursor. */
async function read(coll: ShardedCollection<Doc>, filter: Record<string, unknown>, options: { sort?: Record<string, 1 | -1> } = {}): Promise<Doc[]> {
  return coll.find(filter, options).toArray();
}

/** Two tenants owned by different shards, and one per shard where possible. */
function tenantsOnDistinctShards(router: ShardRouter, count: number): string[] {
  const byShard = new Map<string, string>();
  for (let i = 0; byShard.size < count && i < 10_000; i++) {
    const tenant = `t${i}`;
    const shard = router.route(tenant);
    if (!byShard.has(shard)) byShard.set(shard, tenant);
  }
  return [...byShard.values()];
}

/** Calls of `find`/`count` that reached each shard since the last reset. */
function reads(pool: SpyPool): Record<string, number> {
  return Object.fromEntries(IDS.map((id) => [id, pool.count(id, 'find') + pool.count(id, 'count') + pool.count(id, 'get')]));
}

describe('ShardedCollection with shard key tenant', () => {
  const t = keyed(IDS, 'tenant');
  const router = ShardRouter.fromTopology(t);
  const [t1, t2] = tenantsOnDistinctShards(router, 2) as [string, string];
  let pool: SpyPool;
  let coll: ShardedCollection<Doc>;
  let metrics: StoreMetrics;

  beforeEach(() => {
    pool = new SpyPool(IDS);
    metrics = new StoreMetrics(new Registry());
    coll = new ShardedCollection<Doc>({ name: 'orders', routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: t.toJSON() }), pool, metrics });
  });

  describe('#insertOne', () => {
    it("stores every document of a tenant on the tenant's owner, with _h the point of the tenant (not of _id)", async () => {
      for (let i = 0; i < 40; i++) await coll.insertOne({ _id: `o${i}`, tenant: i % 2 === 0 ? t1 : t2, n: i });
      for (const [shard, docs] of await dump(pool)) {
        for (const d of docs) {
          expect(shard).to.equal(router.route(d['tenant'] as string));
          expect(d['_h']).to.equal(router.point(d['tenant'] as string));
        }
      }
      expect((await dump(pool)).get(router.route(t1))?.length).to.equal(20);
    });

    it('refuses a document without the shard key with shardkit.shardKey.missing, writing nothing and assigning no _id', async () => {
      const doc: Doc = { n: 1 };
      expect((await rejection(coll.insertOne(doc))).code).to.equal(ErrorCode.shardKeyMissing);
      expect(doc._id).to.equal(undefined);
      for (const docs of (await dump(pool)).values()) expect(docs).to.have.length(0);
    });

    it('refuses an array shard-key value with shardkit.key.invalid, as MongoDB refuses arrays in shard keys', async () => {
      expect((await rejection(coll.insertOne({ _id: 'x', tenant: [t1, t2] }))).code).to.equal(ErrorCode.keyInvalid);
      for (const docs of (await dump(pool)).values()) expect(docs).to.have.length(0);
    });

    it('refuses a missing key inside insertMany and bulkWrite before anything is written', async () => {
      const e = await rejection(coll.bulkWrite([{ insertOne: { document: { _id: 'ok', tenant: t1 } } }, { insertOne: { document: { _id: 'bad' } } }]));
      expect(e.code).to.equal(ErrorCode.shardKeyMissing);
      for (const docs of (await dump(pool)).values()) expect(docs).to.have.length(0);
    });
  });

  describe('shard-key immutability', () => {
    beforeEach(async () => {
      await coll.insertOne({ _id: 'o1', tenant: t1, n: 1 });
    });

    it('refuses an update that changes the shard key with shardkit.shardKey.immutable and leaves the document alone', async () => {
      const updates: Array<Record<string, unknown>> = [{ $set: { tenant: t2 } }, { $unset: { tenant: '' } }, { $rename: { tenant: 'old' } }, { $set: { 'tenant.x': 1 } }];
      for (const update of updates) {
        expect((await rejection(coll.updateOne({ _id: 'o1', tenant: t1 }, update))).code, JSON.stringify(update)).to.equal(ErrorCode.shardKeyImmutable);
      }
      expect(await read(coll, { _id: 'o1', tenant: t1 })).to.deep.equal([{ _id: 'o1', tenant: t1, n: 1 }]);
    });

    it('refuses it also when the filter does not name the shard key (the key is read from the matched document)', async () => {
      expect((await rejection(coll.updateOne({ _id: 'o1' }, { $set: { tenant: t2 } }))).code).to.equal(ErrorCode.shardKeyImmutable);
      expect((await rejection(coll.updateMany({ n: 1 }, { $set: { tenant: t2 } }))).code).to.equal(ErrorCode.shardKeyImmutable);
    });

    it('accepts an update that sets the shard key to the value it has', async () => {
      const r = await coll.updateOne({ _id: 'o1' }, { $set: { tenant: t1, n: 2 } });
      expect(r).to.include({ matchedCount: 1, modifiedCount: 1 });
      expect(await read(coll, { tenant: t1 })).to.deep.equal([{ _id: 'o1', tenant: t1, n: 2 }]);
    });

    it('refuses a replacement without the key (missing) or with another value (immutable); the same value replaces', async () => {
      expect((await rejection(coll.replaceOne({ _id: 'o1', tenant: t1 }, { n: 5 }))).code).to.equal(ErrorCode.shardKeyMissing);
      expect((await rejection(coll.replaceOne({ _id: 'o1', tenant: t1 }, { tenant: t2, n: 5 }))).code).to.equal(ErrorCode.shardKeyImmutable);
      expect(await coll.replaceOne({ _id: 'o1' }, { tenant: t1, n: 5 })).to.include({ matchedCount: 1 });
      expect(await read(coll, { _id: 'o1' })).to.deep.equal([{ _id: 'o1', tenant: t1, n: 5 }]);
    });

    it('refuses an aggregation-pipeline update, which cannot be checked to keep the key', async () => {
      expect((await rejection(coll.updateOne({ _id: 'o1', tenant: t1 }, [{ $set: { n: 3 } }]))).code).to.equal(ErrorCode.shardKeyImmutable);
    });
  });

  describe('single-document writes whose filter lacks the shard key or _id', () => {
    beforeEach(async () => {
      // One `_id` under two tenants on two shards: `_id` is unique per shard only.
      await coll.insertOne({ _id: 'same', tenant: t1, n: 1 });
      await coll.insertOne({ _id: 'same', tenant: t2, n: 2 });
      await coll.insertOne({ _id: 'other', tenant: t1, n: 3, name: 'x' });
    });

    it('keeps both documents that share an _id under two tenants, and find returns both', async () => {
      const docs = await read(coll, { _id: 'same' }, { sort: { n: 1 } });
      expect(docs.map((d) => d.n)).to.deep.equal([1, 2]);
      expect(await coll.countDocuments({})).to.equal(3);
    });

    it('updates exactly the document the filter pins by (_id, tenant)', async () => {
      expect(await coll.updateOne({ _id: 'same', tenant: t2 }, { $inc: { n: 10 } })).to.include({ matchedCount: 1, modifiedCount: 1 });
      expect((await read(coll, { _id: 'same' }, { sort: { n: 1 } })).map((d) => d.n)).to.deep.equal([1, 12]);
    });

    it('finds the pair first for a filter without the shard key, and never writes a document the filter does not match', async () => {
      expect(await coll.updateOne({ _id: 'same', n: 2 }, { $set: { name: 'hit' } })).to.include({ matchedCount: 1 });
      expect(await read(coll, { name: 'hit' })).to.deep.equal([{ _id: 'same', tenant: t2, n: 2, name: 'hit' }]);
      expect(await coll.deleteOne({ name: 'x' })).to.deep.equal({ acknowledged: true, deletedCount: 1 });
      expect(await read(coll, { _id: 'other' })).to.deep.equal([]);
      expect(await coll.updateOne({ name: 'nobody' }, { $set: { n: 0 } })).to.include({ matchedCount: 0, modifiedCount: 0 });
    });

    it('refuses an upsert whose filter does not pin the shard key, with shardkit.shardKey.missing', async () => {
      expect((await rejection(coll.updateOne({ _id: 'new' }, { $set: { n: 1 } }, { upsert: true }))).code).to.equal(ErrorCode.shardKeyMissing);
      expect(await coll.countDocuments({ _id: 'new' })).to.equal(0);
    });

    it("upserts on the tenant's owner, with the tenant stored, when the filter pins it (with or without _id)", async () => {
      const r = await coll.updateOne({ tenant: t2, name: 'fresh' }, { $set: { n: 7 } }, { upsert: true });
      expect(r.upsertedCount).to.equal(1);
      expect(r.upsertedId).to.be.instanceOf(ObjectId);
      await coll.updateOne({ _id: 'u2', tenant: { $in: [t1] } }, { $set: { n: 8 } }, { upsert: true });
      for (const [shard, docs] of await dump(pool)) for (const d of docs) expect(shard).to.equal(router.route(d['tenant'] as string));
      expect(await read(coll, { _id: 'u2' })).to.deep.equal([{ _id: 'u2', tenant: t1, n: 8 }]);
    });
  });

  describe('targeting', () => {
    beforeEach(async () => {
      for (let i = 0; i < 20; i++) await coll.insertOne({ _id: `o${i}`, tenant: i % 2 === 0 ? t1 : t2, n: i });
      pool.resetCounts();
    });

    it('sends a query that pins the tenant to its owner only', async () => {
      expect(await read(coll, { tenant: t1, n: { $lt: 6 } }, { sort: { n: 1 } })).to.have.length(3);
      expect(await coll.countDocuments({ tenant: t1 })).to.equal(10);
      const asked = reads(pool);
      for (const id of IDS) {
        if (id === router.route(t1)) expect(asked[id], id).to.be.greaterThan(0);
        else expect(asked[id], id).to.equal(0);
      }
    });

    it('sends updateMany, deleteMany and findOneAndUpdate that pin the tenant to its owner only', async () => {
      expect(await coll.updateMany({ tenant: t2 }, { $inc: { n: 100 } })).to.include({ matchedCount: 10 });
      expect(await coll.findOneAndUpdate({ tenant: t2 }, { $set: { name: 'first' } }, { sort: { n: 1 } })).to.include({ n: 101 });
      expect(await coll.deleteMany({ tenant: t2, n: { $gt: 110 } })).to.deep.equal({ acknowledged: true, deletedCount: 5 });
      for (const id of IDS) if (id !== router.route(t2)) expect(pool.count(id, 'find') + pool.count(id, 'bulkWrite'), id).to.equal(0);
    });

    it('explains targeted and scattered filters: which shards and why', async () => {
      const one = await coll.explain({ tenant: t1 });
      expect(one).to.deep.include({ targeted: true, shardKey: 'tenant', shards: [router.route(t1)], op: 'find' });
      expect(one.reason).to.match(/pins the shard key tenant/);
      const both = [router.route(t1), router.route(t2)].sort();
      expect((await coll.explain({ tenant: { $in: [t1, t2] } }, { op: 'update' })).shards).to.deep.equal(both);
      expect((await coll.explain({ $or: [{ tenant: t1 }, { tenant: { $eq: t2 } }] })).shards).to.deep.equal(both);
      expect((await coll.explain({ $and: [{ n: 1 }, { tenant: t1 }] })).shards).to.deep.equal([router.route(t1)]);
      for (const f of [{}, { n: 1 }, { _id: 'o1' }, { $or: [{ tenant: t1 }, { n: 1 }] }, { tenant: { $gt: t1 } }, { tenant: /t/ }]) {
        const e = await coll.explain(f);
        expect(e.targeted, JSON.stringify(f)).to.equal(false);
        expect(e.shards).to.deep.equal(IDS);
        expect(e.reason).to.match(/does not pin the shard key tenant/);
      }
    });

    it('counts targeted and scattered operations in shardkit_collection_operations_total', async () => {
      await read(coll, { tenant: t1 });
      await coll.countDocuments({ tenant: { $in: [t1, t2] } });
      await read(coll, { n: 3 });
      expect(await metricValue(metrics.routed, { op: 'find', mode: 'targeted' })).to.equal(1);
      expect(await metricValue(metrics.routed, { op: 'countDocuments', mode: 'targeted' })).to.equal(1);
      expect(await metricValue(metrics.routed, { op: 'find', mode: 'scattered' })).to.equal(1);
    });

    it('answers findOne of a pinned pair from its owner alone, counted once as targeted, as the cursor answers it', async () => {
      const owner = router.route(t1);
      expect(await coll.findOne({ _id: 'o2', tenant: t1 })).to.deep.equal({ _id: 'o2', tenant: t1, n: 2 });
      expect(await coll.findOne({ _id: 'o2', tenant: t1 }, { projection: { n: 1, _id: 0 } })).to.deep.equal({ n: 2 });
      expect(await coll.findOne({ _id: 'o2', tenant: t1 }, { skip: 1 })).to.equal(null);
      expect(await coll.findOne({ _id: 'o2', tenant: t1, n: 3 })).to.equal(null);
      const asked = reads(pool);
      for (const id of IDS) if (id !== owner) expect(asked[id], id).to.equal(0);
      expect(await metricValue(metrics.routed, { op: 'find', mode: 'targeted' })).to.equal(4);
      expect(await metricValue(metrics.routed, { op: 'find', mode: 'scattered' })).to.equal(0);
      expect(await rejection(coll.findOne({ _id: 'o2', tenant: t1 }, { skip: -1 }))).to.have.property('code', ErrorCode.invalidArgument);
    });

    it('answers findOne of an _id alone by asking every shard (it does not say where the document lives), counted once as scattered', async () => {
      expect(await coll.findOne({ _id: 'o3' })).to.deep.equal({ _id: 'o3', tenant: t2, n: 3 });
      expect(await coll.findOne({ _id: 'o3' }, { skip: 1 })).to.equal(null);
      expect(await metricValue(metrics.routed, { op: 'find', mode: 'scattered' })).to.equal(2);
      expect(await metricValue(metrics.routed, { op: 'find', mode: 'targeted' })).to.equal(0);
    });

    it('answers every targeted query as the scattered one does', async () => {
      for (const f of [{ tenant: t1 }, { tenant: { $in: [t2] }, n: { $gte: 5 } }, { $or: [{ tenant: t1, n: 2 }, { tenant: t2 }] }]) {
        const targeted = await read(coll, f, { sort: { n: 1 } });
        const scattered = await read(coll, { $nor: [{ $nor: [f] }] }, { sort: { n: 1 } });
        expect((await coll.explain({ $nor: [{ $nor: [f] }] })).targeted).to.equal(false);
        expect(targeted).to.deep.equal(scattered);
      }
    });
  });

  describe('while the tenant moves', () => {
    it('writes a moving tenant where it is, then at its new owner once fenced, and targets both owners', async () => {
      const to = keyed([...IDS, 'e'], 'tenant', 2);
      const next = ShardRouter.fromTopology(to);
      const moving = Array.from({ length: 500 }, (_, i) => `m${i}`).find((x) => next.route(x) === 'e');
      expect(moving).to.be.a('string');
      const tenant = moving as string;
      pool.add('e');
      await coll.insertOne({ _id: 'k', tenant, n: 1 });
      const state: RoutingState = migrating(t, to, 2);
      const during = new ShardedCollection<Doc>({ name: 'orders', routing: new StaticRoutingSource(state), pool });
      expect((await during.explain({ tenant })).shards).to.deep.equal([router.route(tenant), 'e'].sort());
      expect(await during.updateOne({ _id: 'k', tenant }, { $inc: { n: 1 } })).to.include({ matchedCount: 1 });
      // Not reached by the copier yet: written at the old owner (ADR 0002, decision 8).
      expect(await pool.raw(router.route(tenant)).get('k')).to.include({ n: 2 }).and.not.have.property('_moved');
      // Once the copier fenced it there, the next write moves it to the new owner and writes it there.
      await pool.raw(router.route(tenant)).fence([{ id: 'k', h: next.point(tenant) }], 2);
      expect(await during.updateOne({ _id: 'k', tenant }, { $inc: { n: 1 } })).to.include({ matchedCount: 1 });
      expect(await pool.raw('e').get('k')).to.include({ n: 3, tenant, _h: next.point(tenant) });
      expect(await read(during, { tenant })).to.deep.equal([{ _id: 'k', tenant, n: 3 }]);
    });
  });
});

describe('ShardedCollection with a dotted shard key account.id', () => {
  const t = keyed(IDS, 'account.id');
  const router = ShardRouter.fromTopology(t);

  it('routes by the nested value, refuses a document without it, and upserts it in place', async () => {
    const pool = new SpyPool(IDS);
    const coll = new ShardedCollection<Doc>({ name: 'x', routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: t.toJSON() }), pool });
    await coll.insertOne({ _id: 1, account: { id: 42, plan: 'pro' } });
    expect(await pool.raw(router.route(42)).get(1)).to.include({ _h: router.point(42) });
    expect((await rejection(coll.insertOne({ _id: 2, account: { plan: 'free' } }))).code).to.equal(ErrorCode.shardKeyMissing);
    expect((await rejection(coll.updateOne({ _id: 1, 'account.id': 42 }, { $set: { account: { plan: 'x' } } }))).code).to.equal(ErrorCode.shardKeyImmutable);
    await coll.updateOne({ _id: 1, 'account.id': 42 }, { $set: { account: { id: 42, plan: 'team' } } });
    await coll.updateOne({ _id: 3, 'account.id': 7 }, { $set: { n: 1 } }, { upsert: true });
    expect(await pool.raw(router.route(7)).get(3)).to.deep.include({ account: { id: 7 }, n: 1, _h: router.point(7) });
    expect((await coll.explain({ 'account.id': { $in: [42, 7] } })).shards).to.deep.equal([...new Set([router.route(42), router.route(7)])].sort());
    expect(await coll.find({ 'account.id': 42 }).toArray()).to.deep.equal([{ _id: 1, account: { id: 42, plan: 'team' } }]);
  });
});

describe('ShardedCollection with shard key _id (the default)', () => {
  it('stores the same _h as before shard keys existed and explains {_id} as targeted', async () => {
    const t = Topology.from({ name: 'unit', epoch: 1, hash: 'xxhash32', vnodes: 32, placement: 'hashed', shards: IDS.map((id) => ({ id, weight: 1 })) });
    const router = ShardRouter.fromTopology(t);
    const pool = new SpyPool(IDS);
    const coll = new ShardedCollection<Doc>({ name: 'x', routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: t.toJSON() }), pool });
    await coll.insertOne({ _id: 'k1', tenant: 'whatever' });
    expect(await pool.raw(router.route('k1')).get('k1')).to.include({ _h: router.point('k1') });
    expect(await coll.explain({ _id: 'k1' })).to.deep.include({ targeted: true, shardKey: '_id', shards: [router.route('k1')] });
    expect((await rejection(coll.updateOne({ tenant: 'whatever' }, { $set: { n: 1 } }))).code).to.equal(ErrorCode.keyInvalid);
  });
});
