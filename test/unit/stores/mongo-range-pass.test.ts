import { expect } from 'chai';
import { passQuery } from '../../../src/stores/mongo-range-pass.js';
import { SmallestKeys } from '../../../src/stores/mongo-span-ops.js';

describe('passes over ranges (MongoStore)', function () {
  const ranges = [
    { start: 0, end: 10 },
    { start: 20, end: 30 },
  ];

  describe('passQuery', function () {
    it("tests the protocol's filters at the client, on entries read by their ranges alone", function () {
      const scan = passQuery(ranges, false, { _moved: { $lt: 3 }, _ph: { $exists: false } });
      expect(scan.where).to.deep.equal({});
      expect(scan.keep({ _id: 1, _h: 5, _v: 1, _moved: 2 })).to.equal(true);
      expect(scan.keep({ _id: 1, _h: 5, _v: 1, _moved: 3 })).to.equal(false);
      expect(scan.keep({ _id: 1, _h: 5, _v: 1 })).to.equal(false);
      expect(scan.keep({ _id: 1, _h: 5, _v: 1, _moved: 1, _ph: true })).to.equal(false);
      const index = passQuery(ranges, true, { _moved: { $exists: false } });
      expect(Object.keys(index.where)).to.deep.equal(['$or']);
      expect(index.keep({ _id: 1, _h: 5, _v: 1 })).to.equal(true);
      expect(passQuery(ranges, false, undefined).keep({ _id: 1, _h: 25 })).to.equal(true);
      // The copier's listing: unfenced, or fenced by this epoch with data (branches of an $or).
      const copy = passQuery(ranges, false, { $or: [{ _moved: { $exists: false } }, { _moved: 4, _ph: { $exists: false } }] });
      expect(copy.where).to.deep.equal({});
      expect(copy.keep({ _id: 1, _h: 5, _v: 1 })).to.equal(true);
      expect(copy.keep({ _id: 1, _h: 5, _v: 1, _moved: 4 })).to.equal(true);
      expect(copy.keep({ _id: 1, _h: 5, _v: 1, _moved: 4, _ph: true })).to.equal(false);
      expect(copy.keep({ _id: 1, _h: 5, _v: 1, _moved: 3 })).to.equal(false);
    });

    it('sends any other filter to the server with the ranges: their hull where it scans, an $or where the index answers', function () {
      const scan = passQuery(ranges, false, { a: 1 });
      expect(JSON.stringify(scan.where)).to.contain('"a":1').and.contain('"$gte":0').and.not.contain('$or');
      expect(scan.keep({})).to.equal(true);
      expect(JSON.stringify(passQuery(ranges, true, { a: 1 }).where)).to.contain('$or').and.contain('"a":1');
      // A condition on _id or _h is the server's too: the client reads neither as the filter means them.
      expect(JSON.stringify(passQuery(ranges, false, { _id: { $in: [1] } }).where)).to.contain('$in');
      expect(JSON.stringify(passQuery(ranges, false, { $or: [{ _moved: 1 }, { a: 2 }] }).where)).to.contain('"a":2');
    });
  });

  describe('SmallestKeys', function () {
    it('keeps the smallest keys in (_h, _id) order, only those in a span after its cursor, whatever order they come in', function () {
      const keys = new SmallestKeys(
        [
          { range: { start: 0, end: 10 }, after: { h: 3, id: 'b' } },
          { range: { start: 20, end: 30 }, after: null },
        ],
        3,
      );
      const offered = [
        { _id: 'z', _h: 25 },
        { _id: 'a', _h: 3 }, // at the cursor's point, before its _id
        { _id: 'c', _h: 3 },
        { _id: 'x', _h: 15 }, // between the spans
        { _id: 'a', _h: 21 },
        { _id: 'q', _h: 9 },
        { _id: 'b', _h: 21 },
        { _id: 'b', _h: 3 }, // the cursor itself
      ];
      for (const k of offered) keys.offer(k);
      expect(keys.result()).to.deep.equal([
        { _id: 'c', _h: 3 },
        { _id: 'q', _h: 9 },
        { _id: 'a', _h: 21 },
      ]);
    });
  });
});
