/**
 * `ShardedCollection.aggregate` and `distinct` on embedded shards: the split strategy against one
 * store holding every document (a differential on random data), targeting, markers that must never
 * reach a stage, a router that is behind, the migrating state's router-side strategy, and the
 * fallback when a shard does not implement a pushed stage.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Int32, type Document } from 'mongodb';
import { copyForTarget } from '../../../../src/collection/documents.js';
import { ShardedCollection } from '../../../../src/collection/sharded-collection.js';
import { ErrorCode } from '../../../../src/errors.js';
import { ShardRouter } from '../../../../src/router/router.js';
import { StaticRoutingSource } from '../../../../src/router/routing-source.js';
import { compareBson } from '../../../../src/stores/bson-order.js';
import { MemoryStore } from '../../../../src/stores/memory-store.js';
import { LaggingSource, migrating, SpyPool, stable, topology } from '../support.js';
import { rejection } from '../../../support/rejection.js';

const R1 = topology(['a', 'b', 'c', 'd']);
const R2 = R1.with({ kind: 'add', shard: { id: 'e', weight: 1 } });
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);
const moving: number[] = [];
const staying: number[] = [];
for (let i = 0; moving.length < 12 || staying.length < 12; i++) (r1.route(i) !== r2.route(i) ? moving : staying).push(i);

/** Reads a cursor through one place, so a change of the cursor's API touches only this helper. */
function all(cursor: AsyncIterable<Document>): Promise<Document[]> {
  return (async () => {
    const out: Document[] = [];
    for await (const doc of cursor) out.push(doc);
    return out;
  })();
}

function world(state = stable(R1, 5), aggregatePushdown: 'portable' | 'mongodb' = 'portable') {
  const pool = new SpyPool(['a', 'b', 'c', 'd', 'e']);
  const coll = new ShardedCollection({ name: 'agg', routing: new StaticRoutingSource(state), pool, aggregatePushdown });
  return { pool, coll };
}

/** The code of the `ShardkitError` `fn` throws (the test fails if it throws nothing else). */
const codeOf = async (fn: () => unknown): Promise<string> => (await rejection(Promise.resolve().then(fn))).code;

const INTERNAL = ['_h', '_v', '_moved', '_ph', '_ts'];

function assertNoInternal(value: unknown): void {
  if (Array.isArray(value)) return value.forEach(assertNoInternal);
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    expect(INTERNAL, `field ${k} leaked`).to.not.include(k);
    assertNoInternal(v);
  }
}

/** Arrays whose order the server leaves undefined (`$push` without a sort, `$addToSet`), sorted. */
function canonical(docs: Document[]): Document[] {
  return docs.map((d) => {
    const out: Document = { ...d };
    for (const f of ['p', 'u']) if (Array.isArray(out[f])) out[f] = [...(out[f] as unknown[])].sort(compareBson);
    return out;
  });
}

const PIPELINES: Document[][] = [
  [
    { $group: { _id: '$g', s: { $sum: '$n' }, c: { $sum: 1 }, k: { $count: {} }, a: { $avg: '$n' }, mn: { $min: '$n' }, mx: { $max: '$n' }, p: { $push: '$n' }, u: { $addToSet: '$g' } } },
    { $sort: { _id: 1 } },
  ],
  [{ $match: { n: { $gte: 0 } } }, { $sort: { n: -1, _id: 1 } }, { $skip: 3 }, { $limit: 7 }],
  [{ $unwind: '$t' }, { $group: { _id: '$t', c: { $sum: 1 }, s: { $sum: 2 } } }, { $sort: { _id: 1 } }],
  [{ $count: 'total' }],
  [{ $match: { g: 1 } }, { $count: 'c' }],
  [{ $project: { g: 1 } }, { $sort: { _id: 1 } }, { $limit: 5 }],
  [{ $sort: { _id: 1 } }, { $group: { _id: '$g', f: { $first: '$n' }, l: { $last: '$_id' } } }, { $sort: { _id: 1 } }],
  [{ $addFields: { d: { $cond: [{ $isNumber: '$n' }, { $multiply: ['$n', 2] }, 0] } } }, { $match: { d: { $gt: 4 } } }, { $sort: { _id: 1 } }],
  [{ $match: { g: { $in: [0, 2] } } }, { $project: { t: 0 } }, { $group: { _id: null, root: { $push: '$$ROOT' } } }, { $unwind: '$root' }, { $replaceRoot: { newRoot: '$root' } }, { $sort: { _id: 1 } }],
  [{ $group: { _id: { g: '$g' }, n: { $sum: '$n' } } }, { $match: { n: { $gt: 3 } } }, { $sort: { '_id.g': 1 } }],
];

const docArb = fc.record({
  g: fc.constantFrom(0, 1, 2, 'x', null),
  n: fc.oneof(fc.integer({ min: -20, max: 40 }), fc.integer({ min: -40, max: 80 }).map((v) => v / 2), fc.constant('s')),
  t: fc.array(fc.constantFrom(1, 2, 'z'), { maxLength: 3 }),
});

describe('ShardedCollection#aggregate', () => {
  for (const pushdown of ['portable', 'mongodb'] as const) {
    it(`answers as one store holding every document would, on random data (differential, ${pushdown} pushdown)`, async function () {
      this.timeout(60_000);
      await fc.assert(
        fc.asyncProperty(fc.array(docArb, { maxLength: 40 }), async (docs) => {
          const { coll } = world(stable(R1, 5), pushdown);
          const ref = new MemoryStore('ref');
          const withIds = docs.map((d, i) => ({ _id: i, ...d }));
          if (withIds.length > 0) await coll.insertMany(withIds);
          await ref.insertIfAbsent(withIds.map((d) => ({ ...d, _h: 0, _v: 1 })));
          for (const pipeline of PIPELINES) {
            const got = canonical(await all(coll.aggregate(pipeline)));
            let want = canonical(await ref.aggregate(pipeline));
            // mingo counts nothing as `{n: 0}`; a MongoDB server answers no document (so does the merge).
            const count = (pipeline.at(-1) as Document)['$count'] as string | undefined;
            if (count !== undefined) want = want.filter((d) => d[count] !== 0);
            expect(got, JSON.stringify(pipeline)).to.deep.equal(want);
          }
        }),
        { seed: 9, numRuns: 40 },
      );
    });
  }

  it('asks only the owner when a leading $match pins _id', async () => {
    const { coll, pool } = world();
    await coll.insertMany(staying.map((i) => ({ _id: i, n: i })));
    pool.resetCounts();
    const [k] = staying as [number];
    expect(await all(coll.aggregate([{ $match: { _id: k } }, { $project: { n: 1 } }]))).to.deep.equal([{ _id: k, n: k }]);
    for (const id of ['a', 'b', 'c', 'd']) expect(pool.count(id, 'aggregate'), id).to.equal(id === r1.route(k) ? 1 : 0);
  });

  it('never lets a fenced document, a placeholder, a tombstone or an internal field reach a stage', async () => {
    const { coll, pool } = world();
    await coll.insertMany(staying.map((i) => ({ _id: i, g: 1, n: 1 })));
    // Leftovers of an older migration (epoch 3 < 5) on shards that do not own the keys.
    const [f, p, t] = moving as [number, number, number];
    const stranger = (id: number) => pool.raw(['a', 'b', 'c', 'd'].find((s) => s !== r1.route(id)) as string);
    await stranger(f).insert({ _id: f, _h: r1.point(f), _v: 1, g: 1, n: 1000 });
    await stranger(f).fence([{ id: f, h: r1.point(f) }], 3);
    await stranger(p).fence([{ id: p, h: r1.point(p) }], 3);
    await stranger(t).tombstone(t, r1.point(t), 2);
    const pipelines = [
      [{ $group: { _id: '$g', c: { $sum: 1 }, s: { $sum: '$n' }, ids: { $push: '$_id' }, root: { $push: '$$ROOT' } } }],
      [{ $project: { n: 0 } }],
      [{ $match: { g: 1 } }, { $replaceRoot: { newRoot: { all: '$$ROOT' } } }],
      [{ $group: { _id: { h: '$_h', v: '$_v', m: '$_moved' }, c: { $sum: 1 } } }],
    ];
    for (const pipeline of pipelines) assertNoInternal(await all(coll.aggregate(pipeline)));
    const [group] = await all(coll.aggregate(pipelines[0] as Document[]));
    expect(group?.['c']).to.equal(staying.length);
    expect(group?.['s']).to.equal(staying.length);
    expect(await all(coll.aggregate(pipelines[3] as Document[]))).to.deep.equal([{ _id: {}, c: staying.length }]);
    expect(await coll.distinct('n')).to.deep.equal([1]);
  });

  it('runs again under the new state when a migration it has not seen fenced documents (a router behind)', async () => {
    const pool = new SpyPool(['a', 'b', 'c', 'd', 'e']);
    const seed = new ShardedCollection({ name: 'agg', routing: new StaticRoutingSource(stable(R1)), pool });
    const ids = [...moving, ...staying];
    await seed.insertMany(ids.map((i) => ({ _id: i, n: 1 })));
    // The migrator fenced and copied every moving key at epoch 2; the router still holds epoch 1.
    for (const id of moving) {
      const [fenced] = await pool.raw(r1.route(id)).fence([{ id, h: r2.point(id) }], 2);
      await pool.raw(r2.route(id)).insertIfAbsent([copyForTarget(fenced!)]);
    }
    const source = new LaggingSource(stable(R1), migrating(R1, R2, 2));
    const coll = new ShardedCollection({ name: 'agg', routing: source, pool });
    expect(await all(coll.aggregate([{ $group: { _id: null, c: { $sum: '$n' } } }]))).to.deep.equal([{ _id: null, c: ids.length }]);
    expect(source.refreshes).to.equal(1);
  });

  describe('while migrating', () => {
    async function migratingWorld() {
      const pool = new SpyPool(['a', 'b', 'c', 'd', 'e']);
      const seed = new ShardedCollection({ name: 'agg', routing: new StaticRoutingSource(stable(R1)), pool });
      const ids = [...moving, ...staying];
      await seed.insertMany(ids.map((i) => ({ _id: i, g: i % 3, n: i })));
      const coll = new ShardedCollection({ name: 'agg', routing: new StaticRoutingSource(migrating(R1, R2, 2)), pool });
      // A third of the moving keys copied (fenced at the old owner, live at the new one), a third
      // fenced with the copy still in flight, a third not reached yet; one copied key deleted since.
      for (const [j, id] of moving.entries()) {
        if (j % 3 === 2) continue;
        const [fenced] = await pool.raw(r1.route(id)).fence([{ id, h: r2.point(id) }], 2);
        if (j % 3 === 0) await pool.raw(r2.route(id)).insertIfAbsent([copyForTarget(fenced!)]);
      }
      const gone = moving[0] as number;
      await coll.deleteOne({ _id: gone });
      return { coll, pool, live: ids.filter((i) => i !== gone) };
    }

    it('counts each document once, wherever its copies are, and sees no deleted one', async () => {
      const { coll, live } = await migratingWorld();
      expect(await all(coll.aggregate([{ $count: 'n' }]))).to.deep.equal([{ n: live.length }]);
      const groups = await all(coll.aggregate([{ $group: { _id: '$g', c: { $sum: 1 }, s: { $sum: '$n' } } }, { $sort: { _id: 1 } }]));
      const want = [0, 1, 2].map((g) => {
        const of = live.filter((i) => i % 3 === g);
        return { _id: g, c: of.length, s: of.reduce((a, b) => a + b, 0) };
      });
      expect(groups).to.deep.equal(want);
      expect(await coll.distinct('n')).to.deep.equal([...live].sort((a, b) => a - b));
      assertNoInternal(await all(coll.aggregate([{ $project: { g: 0 } }])));
    });

    it('reads a pinned key through the single-key protocol', async () => {
      const { coll, pool } = await migratingWorld();
      const k = moving[1] as number;
      pool.resetCounts();
      expect(await all(coll.aggregate([{ $match: { _id: k } }, { $project: { n: 1 } }]))).to.deep.equal([{ _id: k, n: k }]);
      for (const id of ['a', 'b', 'c', 'd', 'e']) expect(pool.count(id, 'aggregate')).to.equal(0);
    });
  });

  // A reply read with exact types carries its code as an Int32 (the first integration run met that).
  for (const code of [238, new Int32(238)]) {
    it(`runs the pipeline in the router when a shard does not implement a pushed stage (FerretDB, code as a ${typeof code === 'number' ? 'number' : 'BSON Int32'})`, async () => {
      const { coll, pool } = world();
      await coll.insertMany(staying.map((i) => ({ _id: i, n: i })));
      pool.before = async (_shard, op) => {
        if (op === 'aggregate') throw Object.assign(new Error('$group accumulator "$avg" is not implemented yet'), { code });
      };
      const mean = staying.reduce((a, b) => a + b, 0) / staying.length;
      expect(await all(coll.aggregate([{ $group: { _id: null, a: { $avg: '$n' } } }]))).to.deep.equal([{ _id: null, a: mean }]);
    });
  }

  it('refuses a stage it cannot run correctly at once, with a stable code', async () => {
    const { coll } = world();
    expect(await codeOf(() => coll.aggregate([{ $out: 'copy' }]))).to.equal(ErrorCode.aggregateUnsupportedStage);
    expect(await codeOf(() => coll.aggregate([{ $group: { _id: null, f: { $first: '$n' } } }]))).to.equal(ErrorCode.aggregateUnsupportedAccumulator);
  });

  it('refuses an unknown aggregatePushdown when the collection is built', async () => {
    const pool = new SpyPool(['a']);
    const build = () => new ShardedCollection({ name: 'agg', routing: new StaticRoutingSource(stable(R1)), pool, aggregatePushdown: 'all' as 'mongodb' });
    expect(await codeOf(build)).to.equal(ErrorCode.invalidArgument);
  });

  it('is a driver-shaped cursor: next, hasNext, map, close', async () => {
    const { coll } = world();
    await coll.insertMany([1, 2, 3].map((i) => ({ _id: i, n: i })));
    const cursor = coll.aggregate<{ _id: number; n: number }>([{ $sort: { n: 1 } }]).map((d) => d.n);
    expect(await cursor.hasNext()).to.equal(true);
    expect(await cursor.next()).to.equal(1);
    expect(await cursor.toArray()).to.deep.equal([2, 3]);
    expect(cursor.closed).to.equal(true);
  });
});

describe('ShardedCollection#distinct', () => {
  it('answers each value once in BSON order: array elements singly, null counted, missing not', async () => {
    const { coll } = world();
    await coll.insertMany([
      { _id: 1, v: 2 },
      { _id: 2, v: [1, 'a', 2] },
      { _id: 3, v: null },
      { _id: 4 },
      { _id: 5, v: 1.0 },
      { _id: 6, v: { x: 1 } },
      { _id: 7, v: [] },
    ]);
    expect(await coll.distinct('v')).to.deep.equal([null, 1, 2, 'a', { x: 1 }]);
    expect(await coll.distinct('v', { _id: { $lte: 2 } })).to.deep.equal([1, 2, 'a']);
    expect(await coll.distinct('v', { _id: 6 })).to.deep.equal([{ x: 1 }]);
  });

  it('refuses a key that is no field path', async () => {
    const { coll } = world();
    for (const key of ['', '$v', 3]) expect((await rejection(coll.distinct(key as string))).code).to.equal(ErrorCode.invalidArgument);
  });
});
