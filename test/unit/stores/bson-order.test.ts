import { expect } from 'chai';
import fc from 'fast-check';
import { Binary, Long, ObjectId } from 'mongodb';
import { compareBson, compareStrings, idKey, typesAfter } from '../../../src/stores/bson-order.js';

describe('bson-order', function () {
  describe('#compareBson', function () {
    it('orders types as MongoDB does: null < numbers < strings < objects < binary < ObjectId < bool < date', function () {
      const sorted = [null, -1, 2n, Long.fromNumber(3), 3.5, '', 'a', { a: 1 }, new Binary(new Uint8Array([0])), new Uint8Array([0, 0]), new ObjectId('000000000000000000000000'), false, true, new Date(0)];
      const shuffled = [...sorted].reverse();
      shuffled.sort(compareBson);
      expect(shuffled.map(idKey)).to.deep.equal(sorted.map(idKey));
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
    });
  });
});
