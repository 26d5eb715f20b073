import { expect } from 'chai';
import fc from 'fast-check';
import type { Document, Filter } from 'mongodb';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { SpyPool, stable, topology } from './support.js';

const IDS = ['s1', 's2', 's3', 's4'];

const value = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.double({ min: -5, max: 5, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom('a', 'B', 'b', 'ab', 'é', '\u{1F600}', '\uFFFD', ''),
  fc.constant(null),
  fc.boolean(),
  fc.date({ min: new Date(0), max: new Date(1e12), noInvalidDate: true }),
);

const docArb = fc.record(
  {
    a: value,
    b: fc.integer({ min: 0, max: 4 }),
    c: fc.record({ d: fc.integer({ min: -3, max: 3 }) }, { requiredKeys: [] }),
  },
  { requiredKeys: ['b'] },
);

const docsArb = fc.uniqueArray(fc.tuple(fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.string({ minLength: 1, maxLength: 6 })), docArb), {
  minLength: 0,
  maxLength: 40,
  selector: ([id]) => (typeof id === 'number' ? `n${id}` : `s${id}`),
});

const filterArb: fc.Arbitrary<Filter<Document>> = fc.oneof(
  fc.constant({}),
  fc.integer({ min: 0, max: 4 }).map((b) => ({ b })),
  fc.integer({ min: 0, max: 4 }).map((b) => ({ b: { $gte: b } })),
  fc.constant({ a: { $exists: true } }),
  fc.constant({ 'c.d': { $gt: 0 } }),
);

const sortArb = fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'c.d', '_id'), fc.constantFrom(1, -1)), {
  minLength: 1,
  maxLength: 3,
  selector: ([f]) => f,
});

async function setup(docs: ReadonlyArray<[string | number, Document]>) {
  const t = topology(IDS);
  const pool = new SpyPool(IDS);
  const coll = new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(stable(t)), pool });
  const reference = new MemoryStore('reference');
  await coll.insertMany(docs.map(([_id, d]) => ({ _id, ...d })));
  for (const [_id, d] of docs) await reference.insert({ _id, ...d, _h: 0, _v: 1 });
  return { coll, reference };
}

function clean(docs: Document[]): Document[] {
  return docs.map(({ _h, _v, ...rest }) => rest);
}

describe('ShardedCollection scatter-gather', () => {
  describe('#find', () => {
    it('with a sort, equals one collection holding every document (sort, skip, limit, _id tiebreak)', async () => {
      await fc.assert(
        fc.asyncProperty(docsArb, filterArb, sortArb, fc.nat(6), fc.nat(8), async (docs, filter, sortPairs, skip, limit) => {
          const { coll, reference } = await setup(docs);
          const sort: Record<string, 1 | -1> = Object.fromEntries(sortPairs);
          const refSort = '_id' in sort ? sort : { ...sort, _id: 1 as const };
          const expected = clean(await reference.find(filter, { sort: refSort, skip, ...(limit > 0 ? { limit } : {}) }));
          const actual = await coll.find(filter, { sort, skip, limit }).toArray();
          expect(actual).to.deep.equal(expected);
        }),
        { numRuns: 150 },
      );
    });

    it('without a sort, returns the matching set (and a subset of the right size under a limit)', async () => {
      await fc.assert(
        fc.asyncProperty(docsArb, filterArb, fc.nat(8), async (docs, filter, limit) => {
          const { coll, reference } = await setup(docs);
          const expected = clean(await reference.find(filter)).map((d) => JSON.stringify(d));
          const actual = (await coll.find(filter, { limit }).toArray()).map((d) => JSON.stringify(d));
          if (limit === 0) expect([...actual].sort()).to.deep.equal([...expected].sort());
          else {
            expect(actual).to.have.length(Math.min(limit, expected.length));
            for (const d of actual) expect(expected).to.include(d);
          }
        }),
        { numRuns: 100 },
      );
    });

    it('applies plain and operator projections like one collection', async () => {
      const { coll, reference } = await setup([
        [1, { a: 'x', b: 1, c: { d: 2 } }],
        [2, { a: 'y', b: 2, c: { d: 1 } }],
        [3, { a: [1, 2, 3], b: 3 }],
      ]);
      for (const projection of [{ a: 1 }, { a: 0 }, { _id: 0, 'c.d': 1 }, { b: 1, _id: 0 }]) {
        const expected = clean(await reference.find({}, { sort: { b: -1 }, projection }));
        expect(await coll.find({}, { sort: { b: -1 }, projection }).toArray()).to.deep.equal(expected);
      }
      // The sort field is fetched for the merge even when the projection leaves it out.
      expect(await coll.find({}, { sort: { b: 1 }, projection: { a: 1, _id: 0 } }).toArray()).to.deep.equal([{ a: 'x' }, { a: 'y' }, { a: [1, 2, 3] }]);
      expect(await coll.find({ _id: 3 }, { projection: { a: { $slice: 1 }, b: 1 } }).toArray()).to.deep.equal([{ _id: 3, a: [1], b: 3 }]);
    });

    it('pushes limit + skip down to every shard', async () => {
      const t = topology(IDS);
      const pool = new SpyPool(IDS);
      const coll = new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(stable(t)), pool });
      await coll.insertMany(Array.from({ length: 200 }, (_, i) => ({ _id: i, b: i })));
      const seen: Array<number | undefined> = [];
      for (const id of IDS) {
        const store = pool.raw(id);
        // find() reads each shard in batches: the pushed-down limit is on its batched read.
        const original = store.findBatches.bind(store);
        store.findBatches = (filter, options) => {
          seen.push(options.limit);
          return original(filter, options);
        };
      }
      const page = await coll.find({}, { sort: { b: -1 }, skip: 5, limit: 3 }).toArray();
      expect(page.map((d) => d['b'])).to.deep.equal([194, 193, 192]);
      expect(seen).to.deep.equal([8, 8, 8, 8]);
    });
  });

  describe('#countDocuments', () => {
    it('equals the count of one collection', async () => {
      await fc.assert(
        fc.asyncProperty(docsArb, filterArb, async (docs, filter) => {
          const { coll, reference } = await setup(docs);
          expect(await coll.countDocuments(filter)).to.equal(await reference.count(filter));
        }),
        { numRuns: 60 },
      );
    });
  });
});
