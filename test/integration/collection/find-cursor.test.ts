import { expect } from 'chai';
import type { Document } from 'mongodb';
import { copyForTarget } from '../../../src/collection/documents.js';
import type { FindCursor } from '../../../src/collection/find-cursor.js';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import type { StoreProvider } from '../../../src/stores/store-provider.js';
import { Topology } from '../../../src/topology/topology.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const { shards } = testServerUris();
const db = uniqueDbName('cursor');
const COLLECTION = 'items';

/** Every document of a cursor: the one place these tests read `find`. */
async function read<T>(cursor: FindCursor<T>): Promise<T[]> {
  return cursor.toArray();
}

/** One MongoStore per shard, whose batched reads count the documents they hand over and their closes. */
class CountingPool implements StoreProvider {
  readonly pulled = new Map<string, number>();
  closes = 0;
  readonly #stores = new Map<string, MongoStore>();
  readonly #topology: Topology;

  constructor(topology: Topology) {
    this.#topology = topology;
  }

  async store(shardId: string): Promise<ShardStore> {
    let store = this.#stores.get(shardId);
    if (store === undefined) {
      const uri = this.#topology.shard(shardId)?.uri;
      if (uri === undefined) throw new Error(`unknown shard ${shardId}`);
      store = new MongoStore({ shardId, uri, db, collection: COLLECTION, opTimeoutMs: 2000 });
      const findBatches = store.findBatches.bind(store);
      store.findBatches = (filter, options) => {
        const inner = findBatches(filter, options);
        return {
          next: async () => {
            const r = await inner.next();
            if (r.done !== true) this.pulled.set(shardId, (this.pulled.get(shardId) ?? 0) + r.value.length);
            return r;
          },
          close: async () => {
            this.closes++;
            await inner.close();
          },
        };
      };
      this.#stores.set(shardId, store);
    }
    return store;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#stores.values()].map((s) => s.close().catch(() => undefined)));
  }
}

function topologyOver(uris: readonly string[]): Topology {
  return Topology.from({ name: 'cursor', epoch: 1, hash: 'xxhash32', vnodes: 64, placement: 'hashed', shards: uris.map((uri, i) => ({ id: `s${i + 1}`, weight: 1, uri })) });
}

describe('FindCursor on MongoDB-wire servers', function () {
  this.timeout(120_000);
  const N = 400;
  let topology: Topology;
  let pool: CountingPool;
  let coll: ShardedCollection;
  const reference = new MemoryStore('reference');

  before(async function () {
    expect(shards.length, 'these tests need 4 shard servers').to.be.at.least(4);
    topology = topologyOver(shards.slice(0, 3));
    pool = new CountingPool(topologyOver(shards.slice(0, 4)));
    coll = new ShardedCollection({
      name: COLLECTION,
      routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: topology.toJSON() }),
      pool,
      operationTimeoutMs: 1500,
    });
    await coll.ensureRoutingIndexes();
    const docs = Array.from({ length: N }, (_, i) => ({ _id: `k${String(i).padStart(3, '0')}`, g: i % 6, v: (i * 37) % 101 }));
    await coll.insertMany(docs);
    for (const d of docs) await reference.insert({ ...d, _h: 0, _v: 1 });
  });

  after(async function () {
    for (const id of ['s1', 's2', 's3', 's4']) await ((await pool.store(id)) as MongoStore).collection.db.dropDatabase().catch(() => undefined);
    await pool.close();
  });

  it('merges the shards in sort order (ties broken by _id), with skip and limit, as one collection would', async function () {
    for (const [sort, skip, limit] of [[{ v: -1 }, 0, 0], [{ g: 1, v: 1 }, 17, 50], [{ g: -1 }, 390, 0]] as const) {
      const expected = (await reference.find({ g: { $ne: 2 } }, { sort: { ...sort, _id: 1 }, skip, ...(limit > 0 ? { limit } : {}) })).map(({ _h, _v, ...d }) => d);
      expect(await read(coll.find({ g: { $ne: 2 } }, { sort, skip, limit, batchSize: 9 })), JSON.stringify(sort)).to.deep.equal(expected);
    }
  });

  it('holds at most batchSize documents per shard ahead of what it emitted, and closes the shard cursors when left early', async function () {
    pool.pulled.clear();
    const closesBefore = pool.closes;
    let emitted = 0;
    for await (const d of coll.find({}, { sort: { v: 1 }, batchSize: 8 })) {
      emitted++;
      const pulled = [...pool.pulled.values()].reduce((a, b) => a + b, 0);
      expect(pulled - emitted, `after ${emitted}`).to.be.at.most(3 * 8);
      if (emitted === 200) {
        expect(d['v']).to.be.a('number');
        break;
      }
    }
    expect(pool.closes - closesBefore).to.equal(3);
  });

  it('outlives the operation deadline: each batch has one of its own', async function () {
    const cursor = coll.find({}, { sort: { _id: 1 }, batchSize: 5 });
    const first = await cursor.next();
    // Longer than operationTimeoutMs and the store's opTimeoutMs: one deadline for the whole cursor would have passed.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const rest = await cursor.toArray();
    expect([first, ...rest].map((d) => d?.['_id'])).to.deep.equal((await reference.find({}, { sort: { _id: 1 } })).map((d) => d._id));
  });

  it('counts every document once while a fourth shard takes over ranges, copied or only fenced', async function () {
    const grown = topology.with({ kind: 'add', shard: { id: 's4', weight: 1, uri: shards[3] as string } });
    const r1 = ShardRouter.fromTopology(topology);
    const r2 = ShardRouter.fromTopology(grown);
    const state = { phase: 'migrating' as const, epoch: 2, from: topology.toJSON(), topology: grown.toJSON(), migrationId: 'it' };
    const during = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource(state), pool });
    const all = (await reference.find({}, { sort: { _id: 1 } })).map((d) => d._id as string);
    const moving = all.filter((id) => r1.route(id) !== r2.route(id));
    expect(moving.length).to.be.at.least(20);
    // The copier's two steps, for every other moving key both (fence, then copy), for the rest only the fence.
    for (const [i, id] of moving.entries()) {
      const [fenced] = await ((await pool.store(r1.route(id))) as ShardStore).fence([{ id, h: r2.point(id) }], 2);
      if (i % 2 === 0 && fenced !== undefined) await ((await pool.store('s4')) as ShardStore).insertIfAbsent([copyForTarget(fenced)]);
    }
    const docs: Document[] = await read(during.find({}, { sort: { v: 1 }, batchSize: 6 }));
    expect(docs.map((d) => d['_id']).sort()).to.deep.equal(all);
    expect(docs.map((d) => d['v'])).to.deep.equal([...docs.map((d) => d['v'] as number)].sort((a, b) => a - b));
  });
});
