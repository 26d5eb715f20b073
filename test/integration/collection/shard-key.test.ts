/**
 * Shard key `tenant` on the test servers (ADR 0008): 4 shards, documents of 24 tenants, a migration
 * that adds the 4th shard in the middle of reads and writes. Afterwards every tenant's documents sit
 * on one shard (its owner), queries that pin a tenant reach one shard (per `explain`, the store-call
 * metrics and the targeted/scattered counter), and every result equals a plain collection's.
 */
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import type { Collection, Document } from 'mongodb';
import { Registry } from 'prom-client';
import { auditPlacement } from '../../../src/audit/placement-audit.js';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import { StoreMetrics } from '../../../src/metrics/store-metrics.js';
import { Migrator } from '../../../src/rebalance/migrator.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import type { RoutingSource } from '../../../src/router/routing-source.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { wrapStore } from '../../../src/stores/instrumented-store.js';
import { MongoShardPool } from '../../../src/stores/shard-pool.js';
import { Topology } from '../../../src/topology/topology.js';
import { metricValue } from '../../support/metric-value.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const { shards, config: configUri } = testServerUris();
const TENANTS = Array.from({ length: 24 }, (_, i) => `tenant-${i}`);
const SORT = { n: 1, _id: 1 } as const;

/** Every read of this file, through `find`'s cursor. */
function read(coll: ShardedCollection, filter: Document): Promise<Document[]> {
  return coll.find(filter, { sort: SORT }).toArray();
}

/** A routing source that always asks the config store, as a router whose lease is always fresh would. */
function following(config: MemoryConfigStore): RoutingSource {
  let held: RoutingState | null = null;
  return {
    current: () => {
      if (held === null) throw new Error('no state yet');
      return held;
    },
    refresh: async () => {
      held = await config.load();
      if (held === null) throw new Error('no state');
      return held;
    },
  };
}

describe('shard key tenant on 4 test servers, with a rebalance in the middle', function () {
  this.timeout(600_000);
  let client: MongoClient | undefined;
  const db = uniqueDbName('shardkey');

  after(async function () {
    if (client !== undefined) {
      await client.db(db).dropDatabase().catch(() => undefined);
      await client.close();
    }
  });

  it("keeps each tenant on one shard, targets tenant queries to it, and answers as a plain collection", async function () {
    expect(shards.length, 'this test needs 4 shard servers').to.be.at.least(4);
    const uris = shards.slice(0, 4);
    const spec = (n: number, epoch = 1): Topology =>
      Topology.from({
        name: 'orders',
        epoch,
        hash: 'xxhash32',
        vnodes: 64,
        placement: 'hashed',
        shardKey: 'tenant',
        shards: uris.slice(0, n).map((uri, i) => ({ id: `s${i + 1}`, weight: 1, uri, db })),
      });
    const metrics = new StoreMetrics(new Registry());
    const pool = new MongoShardPool({ collection: 'orders', topology: [spec(4).toJSON()], opTimeoutMs: 10_000, wrap: (s) => wrapStore(s, { metrics }) });
    const config = new MemoryConfigStore({ initial: { phase: 'stable', epoch: 1, topology: spec(3).toJSON() } });
    for (const id of ['s1', 's2', 's3', 's4']) await pool.store(id).ensureRoutingIndex();
    const routing = following(config);
    await routing.refresh();
    const coll = new ShardedCollection({ name: 'orders', routing, pool, maxRedirects: 8, metrics });
    client = new MongoClient(configUri);
    const ref = client.db(db).collection<Document>('reference') as unknown as Collection<{ _id: string } & Document>;

    try {
      const docs = Array.from({ length: 240 }, (_, i) => ({ _id: `o${i}`, tenant: TENANTS[i % TENANTS.length] as string, n: i, g: i % 5 }));
      await coll.insertMany(docs.map((d) => ({ ...d })));
      await ref.insertMany(docs.map((d) => ({ ...d })));

      // Add s4 while the application keeps writing and reading, each tenant pinned.
      const migrator = new Migrator({ config, pool, owner: 'shardkey', leaseMs: 2000, opTimeoutMs: 2000, lockLeaseMs: 30_000, batchSize: 8 });
      const migration = migrator.start(spec(4, 2));
      migration.catch(() => undefined);
      const mismatches: string[] = [];
      for (let round = 0; round < 48; round++) {
        const tenant = TENANTS[round % TENANTS.length] as string;
        await Promise.all([coll.updateMany({ tenant, g: round % 5 }, { $inc: { n: 1000 } }), ref.updateMany({ tenant, g: round % 5 }, { $inc: { n: 1000 } })]);
        await Promise.all([coll.updateOne({ _id: `o${round}` }, { $set: { touched: round } }), ref.updateOne({ _id: `o${round}` }, { $set: { touched: round } })]);
        await Promise.all([coll.deleteOne({ _id: `o${round + 100}`, tenant: TENANTS[(round + 100) % TENANTS.length] }), ref.deleteOne({ _id: `o${round + 100}` })]);
        await Promise.all([coll.insertOne({ _id: `new${round}`, tenant, n: round, g: 9 }), ref.insertOne({ _id: `new${round}`, tenant, n: round, g: 9 })]);
        const [mine, theirs] = await Promise.all([read(coll, { tenant }), ref.find({ tenant }).sort(SORT).toArray()]);
        if (JSON.stringify(mine) !== JSON.stringify(theirs)) mismatches.push(`round ${round} ${tenant}: ${JSON.stringify(mine)} / ${JSON.stringify(theirs)}`);
      }
      await migration;
      expect(mismatches).to.deep.equal([]);
      const state = (await config.load()) as RoutingState;
      expect(state.phase).to.equal('stable');
      expect(state.topology.shards.map((x) => x.id)).to.deep.equal(['s1', 's2', 's3', 's4']);
      await routing.refresh();

      // Every tenant's documents on one shard: its owner under the new topology.
      const router = ShardRouter.fromTopology(state.topology);
      for (const id of ['s1', 's2', 's3', 's4']) {
        for (const d of await pool.store(id).find({ _ts: { $exists: false }, _ph: { $exists: false } })) {
          expect(id, `${String(d._id)} of ${String(d['tenant'])}`).to.equal(router.route(d['tenant'] as string));
        }
      }
      const audit = await auditPlacement({ state, stores: (id) => pool.store(id) });
      expect(audit.ok, JSON.stringify(audit.samples)).to.equal(true);
      expect(new Set(TENANTS.map((t) => router.route(t))).size).to.equal(4);

      // A tenant query reaches one shard: per explain, per the store calls, per the counter.
      const reads = async (id: string): Promise<number> =>
        (await metricValue(metrics.calls, { shard: id, op: 'find' })) + (await metricValue(metrics.calls, { shard: id, op: 'findBatches' }));
      for (const tenant of TENANTS.slice(0, 6)) {
        const owner = router.route(tenant);
        expect(await coll.explain({ tenant })).to.deep.include({ targeted: true, shards: [owner] });
        const before = await Promise.all(['s1', 's2', 's3', 's4'].map((id) => reads(id)));
        const [mine, theirs] = await Promise.all([read(coll, { tenant, n: { $gte: 0 } }), ref.find({ tenant, n: { $gte: 0 } }).sort(SORT).toArray()]);
        expect(mine).to.deep.equal(theirs);
        const after = await Promise.all(['s1', 's2', 's3', 's4'].map((id) => reads(id)));
        // The cursor reads in batches (one call per batch, and one that finds the end): read or not is what counts.
        ['s1', 's2', 's3', 's4'].forEach((id, i) => expect((after[i] ?? 0) - (before[i] ?? 0) > 0, `${tenant} at ${id}`).to.equal(id === owner));
      }
      expect(await metricValue(metrics.routed, { op: 'find', mode: 'targeted' })).to.be.at.least(48 + 6);
      expect(await coll.countDocuments({ tenant: { $in: TENANTS.slice(0, 3) } })).to.equal(await ref.countDocuments({ tenant: { $in: TENANTS.slice(0, 3) } }));
      expect(await coll.countDocuments({ g: 9 })).to.equal(48);
      expect(await metricValue(metrics.routed, { op: 'countDocuments', mode: 'scattered' })).to.equal(1);

      // The final contents equal the plain collection's.
      const all = await coll.find({}, { sort: { _id: 1 } }).toArray();
      expect(all).to.deep.equal(await ref.find({}).sort({ _id: 1 }).toArray());
      // A router that never saw the migration's state answers the same through the new state.
      const fresh = new ShardedCollection({ name: 'orders', routing: new StaticRoutingSource(state), pool });
      expect(await fresh.find({ tenant: TENANTS[5] }, { sort: SORT }).toArray()).to.deep.equal(await ref.find({ tenant: TENANTS[5] }).sort(SORT).toArray());
    } finally {
      await pool.close();
    }
  });
});
