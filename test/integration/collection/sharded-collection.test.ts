import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import type { Document } from 'mongodb';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import type { StoreProvider } from '../../../src/stores/store-provider.js';
import { ErrorCode, ShardkitError } from '../../../src/errors.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import { Topology } from '../../../src/topology/topology.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const { shards } = testServerUris();
const db = uniqueDbName('collection');
const COLLECTION = 'items';

/** One MongoStore per topology shard, connected on first use, counting bulkWrite calls. */
class TestPool implements StoreProvider {
  readonly bulkCalls = new Map<string, number>();
  readonly #stores = new Map<string, Promise<ShardStore>>();
  readonly #topology: Topology;

  constructor(topology: Topology) {
    this.#topology = topology;
  }

  store(shardId: string): Promise<ShardStore> {
    let store = this.#stores.get(shardId);
    if (store === undefined) {
      const spec = this.#topology.shard(shardId);
      if (spec?.uri === undefined) throw new Error(`unknown shard ${shardId}`);
      store = MongoStore.connect({ shardId, uri: spec.uri, db, collection: COLLECTION, opTimeoutMs: 2000 }).then((s) => {
        const bulkWrite = s.bulkWrite.bind(s);
        s.bulkWrite = (ops) => {
          this.bulkCalls.set(shardId, (this.bulkCalls.get(shardId) ?? 0) + 1);
          return bulkWrite(ops);
        };
        return s;
      });
      // A failed connect is not cached: the next call tries again.
      store.catch(() => this.#stores.delete(shardId));
      this.#stores.set(shardId, store);
    }
    return store;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#stores.values()].map((p) => p.then((s) => s.close()).catch(() => undefined)));
  }
}

function topologyOver(uris: readonly string[]): Topology {
  return Topology.from({
    name: 'itest',
    epoch: 1,
    hash: 'xxhash32',
    vnodes: 64,
    placement: 'hashed',
    shards: uris.map((uri, i) => ({ id: `s${i + 1}`, weight: 1, uri })),
  });
}

describe('ShardedCollection on MongoDB-wire servers', function () {
  this.timeout(60_000);
  let topology: Topology;
  let router: ShardRouter;
  let pool: TestPool;
  let coll: ShardedCollection;
  const clients = new Map<string, MongoClient>();

  before(async function () {
    expect(shards.length, 'these tests need at least 3 shard servers').to.be.at.least(3);
    topology = topologyOver(shards.slice(0, 3));
    router = ShardRouter.fromTopology(topology);
    pool = new TestPool(topology);
    coll = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: topology.toJSON() }), pool });
    for (const s of topology.shards) {
      const client = new MongoClient(s.uri as string);
      await client.connect();
      clients.set(s.id, client);
    }
    await coll.ensureRoutingIndexes();
  });

  after(async function () {
    await pool?.close();
    for (const client of clients.values()) {
      await client.db(db).dropDatabase().catch(() => undefined);
      await client.close();
    }
  });

  /** Every raw document each shard holds, read with a direct driver connection. */
  async function direct(): Promise<Map<string, Document[]>> {
    const out = new Map<string, Document[]>();
    for (const [id, client] of clients) out.set(id, await client.db(db).collection(COLLECTION).find({}).toArray());
    return out;
  }

  it('lands CRUD on the shard route() names, checked with a direct connection', async function () {
    for (let i = 0; i < 30; i++) await coll.insertOne({ _id: `crud-${i}`, n: i });
    await coll.updateOne({ _id: 'crud-3' }, { $set: { n: 300 } });
    await coll.replaceOne({ _id: 'crud-4' }, { m: 4 });
    await coll.deleteOne({ _id: 'crud-5' });
    const raw = await direct();
    let total = 0;
    for (const [shard, docs] of raw) {
      for (const d of docs) {
        if (typeof d['_id'] !== 'string' || !d['_id'].startsWith('crud-')) continue;
        total++;
        expect(router.route(d['_id']), `shard of ${d['_id']}`).to.equal(shard);
        expect(d['_h']).to.equal(router.point(d['_id']));
      }
    }
    expect(total).to.equal(29);
    const owner3 = raw.get(router.route('crud-3')) as Document[];
    expect(owner3.find((d) => d['_id'] === 'crud-3')).to.include({ n: 300, _v: 2 });
    expect(await coll.findOne({ _id: 'crud-4' })).to.deep.equal({ _id: 'crud-4', m: 4 });
    expect(await coll.findOne({ _id: 'crud-5' })).to.equal(null);
    const hasIndex = await Promise.all([...clients.values()].map((c) => c.db(db).collection(COLLECTION).indexExists('_h_1__id_1')));
    expect(hasIndex).to.deep.equal([true, true, true]);
  });

  it('matches one collection on scatter-gather sort, skip and limit', async function () {
    const docs = Array.from({ length: 120 }, (_, i) => ({ _id: `sg-${i}`, g: i % 7, v: (i * 37) % 101, s: `k${(i * 13) % 17}` }));
    await coll.insertMany(docs);
    const reference = new MemoryStore('reference');
    for (const d of docs) await reference.insert({ ...d, _h: 0, _v: 1 });
    const cases: Array<{ filter: Document; sort: Record<string, 1 | -1>; skip: number; limit: number }> = [
      { filter: { g: { $lte: 3 } }, sort: { v: -1 }, skip: 0, limit: 10 },
      { filter: { g: 2 }, sort: { s: 1, v: 1 }, skip: 3, limit: 5 },
      { filter: { _id: { $regex: '^sg-' } }, sort: { g: 1, s: -1 }, skip: 50, limit: 0 },
      { filter: { v: { $gt: 90 } }, sort: { _id: -1 }, skip: 1, limit: 4 },
    ];
    for (const c of cases) {
      const expected = (await reference.find(c.filter, { sort: { ...c.sort, _id: c.sort['_id'] ?? 1 }, skip: c.skip, ...(c.limit > 0 ? { limit: c.limit } : {}) })).map(
        ({ _h, _v, ...d }) => d,
      );
      expect(await coll.find(c.filter, c).toArray(), JSON.stringify(c)).to.deep.equal(expected);
      expect(await coll.countDocuments(c.filter)).to.equal(await reference.count(c.filter));
    }
  });

  it('sends one bulkWrite per shard and merges the results', async function () {
    pool.bulkCalls.clear();
    const r = await coll.bulkWrite([
      ...Array.from({ length: 40 }, (_, i) => ({ insertOne: { document: { _id: `bulk-${i}`, n: i } } })),
      { updateOne: { filter: { _id: 'crud-1' }, update: { $inc: { n: 1 } } } },
      { deleteOne: { filter: { _id: 'crud-2' } } },
      { insertOne: { document: { _id: 'crud-6' } } },
    ]);
    expect(r).to.include({ insertedCount: 40, matchedCount: 1, deletedCount: 1 });
    expect(r.errors.map((e) => e.index)).to.deep.equal([42]);
    expect((r.errors[0]?.error as ShardkitError).code).to.equal(ErrorCode.storeDuplicateKey);
    for (const s of topology.shards) expect(pool.bulkCalls.get(s.id), s.id).to.equal(1);
    const raw = await direct();
    for (const [shard, docs] of raw) {
      for (const d of docs) if (String(d['_id']).startsWith('bulk-')) expect(router.route(d['_id'] as string)).to.equal(shard);
    }
  });

  context('while migrating to a fourth shard', function () {
    it('writes an unfenced key at its old owner, a fenced one at the new owner after copying it, and leaves tombstones for deletes', async function () {
      expect(shards.length, 'this test needs a fourth shard server').to.be.at.least(4);
      const grown = topology.with({ kind: 'add', shard: { id: 's4', weight: 1, uri: shards[3] as string } });
      const r2 = ShardRouter.fromTopology(grown);
      const client4 = new MongoClient(shards[3] as string);
      await client4.connect();
      clients.set('s4', client4);
      const migPool = new TestPool(grown);
      const state = { phase: 'migrating' as const, epoch: 2, from: topology.toJSON(), topology: grown.toJSON(), migrationId: 'it' };
      const during = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource(state), pool: migPool });
      try {
        const ids = Array.from({ length: 60 }, (_, i) => `mig-${i}`);
        await coll.insertMany(ids.map((_id, n) => ({ _id, n })));
        const moving = ids.filter((id) => router.route(id) !== r2.route(id));
        expect(moving.length).to.be.at.least(4);
        const [up, del, again, early] = moving as [string, string, string, string];
        // The copier fenced `up` (its copy in flight): the update copies it to s4 and writes it there.
        await (await migPool.store(router.route(up))).fence([{ id: up, h: r2.point(up) }], 2);
        await during.updateOne({ _id: up }, { $inc: { n: 1000 } });
        // `early` is not fenced yet: the update is written at its old owner (ADR 0002, decision 8).
        expect((await during.updateOne({ _id: early }, { $inc: { n: 1000 } })).modifiedCount).to.equal(1);
        await during.deleteOne({ _id: del });
        await during.deleteOne({ _id: again });
        await during.insertOne({ _id: again, n: -1 });
        const raw = await direct();
        const at = (shard: string, id: string) => (raw.get(shard) as Document[]).find((d) => d['_id'] === id);
        expect(at(router.route(up), up)).to.include({ _moved: 2 });
        expect(at('s4', up)).to.include({ n: ids.indexOf(up) + 1000, _v: 2 });
        expect(at(router.route(early), early)).to.include({ n: ids.indexOf(early) + 1000, _v: 2 }).and.not.have.property('_moved');
        expect(at('s4', early)).to.equal(undefined);
        expect(await during.findOne({ _id: early })).to.deep.equal({ _id: early, n: ids.indexOf(early) + 1000 });
        expect(at('s4', del)).to.include({ _ts: true });
        expect(at('s4', again)).to.include({ n: -1 });
        expect(at('s4', again)?.['_ts']).to.equal(undefined);
        expect(await during.findOne({ _id: up })).to.deep.equal({ _id: up, n: ids.indexOf(up) + 1000 });
        expect(await during.findOne({ _id: del })).to.equal(null);
        const all = await during.find({ _id: { $regex: '^mig-' } }, { sort: { n: 1 } }).toArray();
        expect(all).to.have.length(59);
        expect(all[0]).to.deep.equal({ _id: again, n: -1 });
        expect(await during.countDocuments({ _id: { $regex: '^mig-' } })).to.equal(59);
      } finally {
        await migPool.close();
      }
    });
  });

  context('when a shard is unreachable', function () {
    it('fails with a clear error naming the shard, without the URI', async function () {
      const deadUri = 'mongodb://admin:s3cret@127.0.0.1:1/x';
      const broken = Topology.from({ ...topology.toJSON(), shards: topology.shards.map((s, i) => (i === 1 ? { ...s, uri: deadUri } : s)) });
      const deadId = broken.shards[1]?.id as string;
      const brokenPool = new TestPool(broken);
      const c = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: broken.toJSON() }), pool: brokenPool });
      try {
        let key = 0;
        while (router.route(`dead-${key}`) !== deadId) key++;
        for (const attempt of [() => c.insertOne({ _id: `dead-${key}` }), () => c.find({ n: 1 }).toArray()]) {
          let error: unknown;
          try {
            await attempt();
          } catch (e) {
            error = e;
          }
          expect(error).to.be.instanceOf(ShardkitError);
          const e = error as ShardkitError;
          expect(e.shardId).to.equal(deadId);
          expect(e.code).to.equal(ErrorCode.storeUnavailable);
          expect(e.message).to.contain(`shard ${deadId}`);
          expect(e.message).to.not.contain('s3cret');
          expect(e.cause).to.not.equal(undefined);
        }
      } finally {
        await brokenPool.close();
      }
    });
  });
});
