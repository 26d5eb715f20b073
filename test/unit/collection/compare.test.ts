import { expect } from 'chai';
import { BSONRegExp, Binary, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'mongodb';
import type { Document } from 'mongodb';
import { compareValues, documentComparator, normalizeSort } from '../../../src/collection/compare.js';
import { compareBson, idKey } from '../../../src/stores/bson-order.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { StoredDocument } from '../../../src/stores/shard-store.js';

/** One value of every type a sort meets, in several spellings of the same number. */
function mixedValues(): unknown[] {
  return [
    new MaxKey(),
    new BSONRegExp('b', 'i'),
    /a/,
    new Timestamp({ t: 2, i: 0 }),
    new Timestamp({ t: 1, i: 7 }),
    new Date(5),
    new Date(-5),
    true,
    false,
    new ObjectId('ff0000000000000000000000'),
    new ObjectId('0f0000000000000000000000'),
    new Binary(new Uint8Array([1, 2])),
    new Uint8Array([9]),
    [3, 'x'],
    [],
    [[1]],
    { b: 1 },
    { a: 'z' },
    { a: 2 },
    'b',
    '\u{10000}',
    '\uffff',
    '',
    2n ** 60n + 1n,
    Long.fromBigInt(2n ** 60n),
    new Decimal128('2.5'),
    new Double(2.25),
    new Int32(2),
    -1,
    Number.NaN,
    null,
    undefined,
    new MinKey(),
  ];
}

/** Documents with the value under `v` (or no `v` at all for `undefined`), numbered by `_id`. */
function mixedDocs(): StoredDocument[] {
  return mixedValues().map((v, i) => {
    const doc: StoredDocument = { _id: i, _h: i * 7919, _v: 1 };
    if (v !== undefined) doc.v = v;
    return doc;
  });
}

async function storeWith(docs: readonly StoredDocument[]): Promise<MemoryStore> {
  const store = new MemoryStore('s1');
  for (const doc of docs) await store.insert({ ...doc });
  return store;
}

function ids(docs: readonly Document[]): unknown[] {
  return docs.map((d) => idKey(d._id));
}

describe('compare', function () {
  describe('#compareValues', function () {
    it('is the stores\' comparator, so a shard and the merge order values alike', function () {
      const values = mixedValues();
      for (const a of values) for (const b of values) expect(compareValues(a, b)).to.equal(compareBson(a, b));
    });
  });

  describe('#documentComparator', function () {
    for (const dir of [1, -1] as const) {
      context(`when sorting mixed types ${dir === 1 ? 'ascending' : 'descending'}`, function () {
        // `_id` breaks ties (null and missing; the equal numbers), so the order is total.
        const sort = { v: dir, _id: 1 } as const;

        it('agrees with the MemoryStore\'s sort on one shard', async function () {
          const docs = mixedDocs();
          const store = await storeWith(docs);
          const byStore = await store.find({}, { sort });
          const byMerge = [...docs].sort(documentComparator(normalizeSort(sort)));
          expect(ids(byStore)).to.deep.equal(ids(byMerge));
        });

        it('merges per-shard sorted parts into the order one shard would return', async function () {
          const docs = mixedDocs();
          const whole = await (await storeWith(docs)).find({}, { sort });
          const parts = await Promise.all(
            [0, 1, 2].map(async (k) => (await storeWith(docs.filter((_, i) => i % 3 === k))).find({}, { sort })),
          );
          const merged = parts.flat().sort(documentComparator(normalizeSort(sort)));
          expect(ids(merged)).to.deep.equal(ids(whole));
        });
      });
    }

    it('sorts an array field by its smallest element ascending and its largest descending', async function () {
      const docs: StoredDocument[] = [
        { _id: 1, _h: 1, _v: 1, v: [5, 1] },
        { _id: 2, _h: 2, _v: 1, v: 3 },
        { _id: 3, _h: 3, _v: 1, v: [] },
        { _id: 4, _h: 4, _v: 1, v: null },
        { _id: 5, _h: 5, _v: 1, v: [new MinKey()] },
      ];
      const store = await storeWith(docs);
      expect((await store.find({}, { sort: { v: 1 } })).map((d) => d._id)).to.deep.equal([5, 3, 4, 1, 2]);
      expect((await store.find({}, { sort: { v: -1 } })).map((d) => d._id)).to.deep.equal([1, 2, 4, 3, 5]);
      expect([...docs].sort(documentComparator(normalizeSort({ v: -1 }))).map((d) => d._id)).to.deep.equal([1, 2, 4, 3, 5]);
    });
  });
});
