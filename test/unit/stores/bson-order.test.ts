import { expect } from 'chai';
import fc from 'fast-check';
import { BSONRegExp, BSONSymbol, Binary, Code, DBRef, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'mongodb';
import { EMPTY_ARRAY_KEY, compareBson, compareStrings, idKey, sortKey, typesAfter } from '../../../src/stores/bson-order.js';

describe('bson-order', function () {
  describe('#compareBson', function () {
    it('orders types as MongoDB does: null < numbers < strings < objects < binary < ObjectId < bool < date', function () {
      const sorted = [null, -1, 2n, Long.fromNumber(3), 3.5, '', 'a', { a: 1 }, new Binary(new Uint8Array([0])), new Uint8Array([0, 0]), new ObjectId('000000000000000000000000'), false, true, new Date(0)];
      const shuffled = [...sorted].reverse();
      shuffled.sort(compareBson);
      expect(shuffled.map(idKey)).to.deep.equal(sorted.map(idKey));
    });

    it('orders every type as MongoDB does: MinKey first, then timestamps, regexes, code and MaxKey last', function () {
      const sorted: unknown[] = [
        new MinKey(),
        null,
        Number.NaN,
        new Int32(-3),
        1,
        Long.fromBigInt(2n ** 60n),
        2n ** 60n + 1n,
        '',
        new BSONSymbol('a'),
        'b',
        { a: 1 },
        // A DBRef is the object {$ref, $id}: string first field, named below 'a'.
        new DBRef('c', new ObjectId('000000000000000000000000')),
        { a: 'x' },
        [],
        [1, 2],
        [[0]],
        new Binary(new Uint8Array([0xff])),
        new ObjectId('0f0000000000000000000000'),
        new ObjectId('f00000000000000000000000'),
        false,
        true,
        new Date(-1),
        new Date(1),
        new Timestamp({ t: 1, i: 9 }),
        new Timestamp({ t: 0xffffffff, i: 0 }),
        /a/,
        new BSONRegExp('a', 'i'),
        /b/,
        new Code('f()'),
        new Code('f()', { x: 1 }),
        new MaxKey(),
      ];
      for (let i = 0; i < sorted.length; i++) {
        for (let j = 0; j < sorted.length; j++) {
          expect(compareBson(sorted[i], sorted[j]), `${i} vs ${j}`).to.equal(Math.sign(i - j));
        }
      }
    });

    it('treats null and a missing value as one, and compares a Binary by its written bytes only', function () {
      expect(compareBson(null, undefined)).to.equal(0);
      const grown = new Binary(new Uint8Array(0));
      grown.write(new Uint8Array([1, 2]), 0);
      expect(compareBson(grown, new Binary(new Uint8Array([1, 2])))).to.equal(0);
    });

    it('orders binary by length first, as MongoDB does', function () {
      expect(compareBson(new Uint8Array([9]), new Uint8Array([0, 0]))).to.equal(-1);
    });

    it('compares numbers of mixed kinds exactly', function () {
      expect(compareBson(2n ** 60n, 2 ** 60)).to.equal(0);
      expect(compareBson(2n ** 60n + 1n, 2 ** 60)).to.equal(1);
      expect(compareBson(Number.NaN, -Infinity)).to.equal(-1);
    });
  });

  describe('#compareStrings', function () {
    it('agrees with UTF-8 byte order (MongoDB simple collation)', function () {
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
          const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
          expect(compareStrings(a, b)).to.equal(bytes);
        }),
      );
      expect(compareStrings('\uffff', '\u{10000}')).to.equal(-1);
    });
  });

  describe('#idKey', function () {
    it('is equal exactly for values the _id index treats as one key', function () {
      expect(idKey(42)).to.equal(idKey(42n));
      expect(idKey(42)).to.equal(idKey(Long.fromNumber(42)));
      expect(idKey(42)).to.not.equal(idKey('42'));
      expect(idKey(new Uint8Array([1, 2]))).to.equal(idKey(new Binary(new Uint8Array([1, 2]))));
      const oid = new ObjectId();
      expect(idKey(oid)).to.equal(idKey(new ObjectId(oid.toHexString())));
    });
  });

  describe('#typesAfter', function () {
    it('lists the $type aliases that sort after a value, within what FerretDB accepts', function () {
      expect(typesAfter(1)).to.deep.equal(['string', 'object', 'binData', 'objectId', 'bool', 'date', 'timestamp', 'regex']);
      expect(typesAfter('a')).to.deep.equal(['object', 'binData', 'objectId', 'bool', 'date', 'timestamp', 'regex']);
      expect(typesAfter(new ObjectId())).to.deep.equal(['bool', 'date', 'timestamp', 'regex']);
      expect(typesAfter(new MinKey())).to.deep.equal(['string', 'object', 'binData', 'objectId', 'bool', 'date', 'timestamp', 'regex']);
      expect(typesAfter(new Timestamp({ t: 1, i: 1 }))).to.deep.equal(['regex']);
      expect(typesAfter(new MaxKey())).to.deep.equal([]);
    });
  });

  describe('#sortKey', function () {
    it('takes an array field\'s smallest element ascending and its largest descending, through dotted paths', function () {
      const doc = { a: [{ b: 4 }, { b: [1, 9] }, { c: 0 }] };
      expect(sortKey(doc, { path: 'a.b', dir: 1 })).to.equal(undefined);
      expect(sortKey(doc, { path: 'a.b', dir: -1 })).to.equal(9);
      expect(sortKey({ a: [] }, { path: 'a', dir: 1 })).to.equal(EMPTY_ARRAY_KEY);
      expect(sortKey({ a: [3, 'x'] }, { path: 'a.1', dir: 1 })).to.equal('x');
    });
  });
});
