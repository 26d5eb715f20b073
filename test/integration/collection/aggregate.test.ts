/**
 * `aggregate` and `distinct` on 4 FerretDB shards (or MongoDB), against one plain driver collection
 * holding the same documents. Pipelines the plain FerretDB collection cannot run (`$avg`, `$min`,
 * `$push`, computed fields: "not implemented yet") are compared with the same pipeline run by mingo
 * over the plain collection's documents; shardkit runs those parts router-side.
 */
import { expect } from 'chai';
import { Aggregator } from 'mingo';
import { Double, MongoClient, type Collection, type Document } from 'mongodb';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { prng } from '../../../src/demo/writers.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { ShardRouter } from '../../../src/router/router.js';
import { compareBson } from '../../../src/stores/bson-order.js';
import { MongoShardPool } from '../../../src/stores/shard-pool.js';
import { Topology } from '../../../src/topology/topology.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const { shards, config } = testServerUris();
const db = uniqueDbName('aggregate');
const COLLECTION = 'agg';

/** Reads a cursor through one place, so a change of the cursor's API touches only this helper. */
async function all(cursor: AsyncIterable<Document>): Promise<Document[]> {
  const out: Document[] = [];
  for await (const doc of cursor) out.push(doc);
  return out;
}

/** Arrays whose order the server leaves undefined (`$push` without a sort, `$addToSet`), sorted. */
function canonical(docs: Document[]): Document[] {
  return docs.map((d) => {
    const out: Document = { ...d };
    for (const f of ['p', 'u']) if (Array.isArray(out[f])) out[f] = [...(out[f] as unknown[])].sort(compareBson);
    return out;
  });
}

function documents(n: number): Document[] {
  const rnd = prng(20261201);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  return Array.from({ length: n }, (_, i) => {
    const doc: Document = { _id: `k${i}`, g: pick([0, 1, 2, 'x', null]), t: Array.from({ length: Math.floor(rnd() * 3) }, () => pick([1, 2, 'z'])) };
    const r = rnd();
    if (r < 0.45) doc['n'] = Math.floor(rnd() * 100) - 20;
    else if (r < 0.85) doc['n'] = new Double(Math.floor(rnd() * 200) / 2);
    else if (r < 0.92) doc['n'] = 's';
    return doc;
  });
}

/** Pipelines FerretDB 1.24 runs correctly on one collection: compared with the plain collection. */
const SERVER_PIPELINES: Document[][] = [
  [{ $group: { _id: '$g', s: { $sum: '$n' } } }, { $sort: { _id: 1 } }],
  [{ $group: { _id: '$g', k: { $count: {} } } }, { $sort: { _id: 1 } }],
  [{ $group: { _id: '$g', c: { $sum: 1 } } }, { $sort: { _id: 1 } }],
  [{ $match: { n: { $gte: 0 } } }, { $sort: { n: -1, _id: 1 } }, { $skip: 3 }, { $limit: 7 }],
  [{ $unwind: '$t' }, { $group: { _id: '$t', k: { $count: {} } } }, { $sort: { _id: 1 } }],
  [{ $count: 'total' }],
  [{ $match: { g: 1 } }, { $count: 'c' }],
  [{ $match: { g: 'none' } }, { $count: 'c' }],
  [{ $project: { g: 1 } }, { $sort: { _id: 1 } }, { $limit: 5 }],
  [{ $match: { _id: 'k7' } }, { $project: { t: 0 } }],
  [{ $match: { g: { $in: [0, 2] } } }, { $sort: { _id: 1 } }, { $project: { n: 1 } }],
];

/**
 * Pipelines the plain FerretDB collection refuses, or answers wrongly (it computes only the first
 * accumulator of a `$group`, 0 for the others): compared with mingo over its documents.
 */
const ROUTER_PIPELINES: Document[][] = [
  [{ $group: { _id: '$g', s: { $sum: '$n' }, k: { $count: {} } } }, { $sort: { _id: 1 } }],
  [
    { $group: { _id: '$g', s: { $sum: '$n' }, c: { $sum: 1 }, a: { $avg: '$n' }, mn: { $min: '$n' }, mx: { $max: '$n' }, p: { $push: '$n' }, u: { $addToSet: '$g' } } },
    { $sort: { _id: 1 } },
  ],
  [{ $sort: { _id: 1 } }, { $group: { _id: '$g', f: { $first: '$n' }, l: { $last: '$_id' } } }, { $sort: { _id: 1 } }],
  [{ $addFields: { d: { $cond: [{ $isNumber: '$n' }, { $multiply: ['$n', 2] }, 0] } } }, { $match: { d: { $gt: 100 } } }, { $sort: { _id: 1 } }],
  [{ $sortByCount: '$g' }, { $sort: { count: -1, _id: 1 } }],
];

describe('ShardedCollection#aggregate and #distinct on MongoDB-wire shards, against one plain collection', function () {
  this.timeout(120_000);
  let pool: MongoShardPool;
  let coll: ShardedCollection;
  let client: MongoClient;
  let plain: Collection<Document>;
  let topology: Topology;

  before(async function () {
    topology = Topology.from({
      name: 'agg',
      epoch: 5,
      hash: 'xxhash32',
      vnodes: 64,
      placement: 'hashed',
      shards: shards.slice(0, 4).map((uri, i) => ({ id: `s${i + 1}`, weight: 1, uri, db })),
    });
    pool = new MongoShardPool({ collection: COLLECTION, topology: topology.toJSON(), opTimeoutMs: 10_000 });
    coll = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource({ phase: 'stable', epoch: 5, topology: topology.toJSON() }), pool });
    await coll.ensureRoutingIndexes();
    const docs = documents(240);
    await coll.insertMany(docs);
    client = new MongoClient(config);
    plain = client.db(db).collection('plain');
    await plain.insertMany(docs.map((d) => ({ ...d })));
    // Leftovers of an older migration on shards that do not own the keys: a fenced document, a
    // placeholder, a tombstone. The plain collection has none of them; no answer may show them.
    const router = ShardRouter.fromTopology(topology);
    const ids = ['ghost1', 'ghost2', 'ghost3'];
    const stranger = async (id: string) => pool.store(topology.shards.map((s) => s.id).find((s) => s !== router.route(id)) as string);
    await (await stranger('ghost1')).insert({ _id: 'ghost1', _h: router.point('ghost1'), _v: 1, g: 1, n: 1000, t: [1] });
    await (await stranger('ghost1')).fence([{ id: 'ghost1', h: router.point('ghost1') }], 3);
    await (await stranger('ghost2')).fence([{ id: 'ghost2', h: router.point('ghost2') }], 3);
    await (await stranger('ghost3')).tombstone(ids[2], router.point('ghost3'), 2);
  });

  after(async function () {
    await pool.close();
    await client.db(db).dropDatabase().catch(() => undefined);
    await client.close();
    for (const uri of shards.slice(0, 4)) {
      const c = new MongoClient(uri);
      await c.db(db).dropDatabase().catch(() => undefined);
      await c.close();
    }
  });

  for (const pipeline of SERVER_PIPELINES) {
    it(`answers ${JSON.stringify(pipeline)} as the plain collection does`, async function () {
      const want = await plain.aggregate(pipeline).toArray();
      expect(canonical(await all(coll.aggregate(pipeline)))).to.deep.equal(canonical(want));
    });
  }

  for (const pipeline of ROUTER_PIPELINES) {
    it(`answers ${JSON.stringify(pipeline)} as one collection would (mingo over the plain documents)`, async function () {
      const docs = await plain.find({}).toArray();
      const want = new Aggregator(pipeline, {}).run(docs);
      expect(canonical(await all(coll.aggregate(pipeline)))).to.deep.equal(canonical(want));
    });
  }

  it('answers distinct as the plain collection does', async function () {
    for (const [key, filter] of [
      ['g', {}],
      ['t', {}],
      ['n', { g: 1 }],
      ['t', { _id: 'k3' }],
      ['missing', {}],
    ] as Array<[string, Document]>) {
      const want = (await plain.distinct(key, filter)).sort(compareBson);
      expect(await coll.distinct(key, filter), `${key} ${JSON.stringify(filter)}`).to.deep.equal(want);
    }
  });
});
