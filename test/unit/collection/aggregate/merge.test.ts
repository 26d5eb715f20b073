import { expect } from 'chai';
import { Double, Int32, Long } from 'mongodb';
import { ErrorCode, ShardkitError } from '../../../../src/errors.js';
import { mergeGroups, mergeSorted, mergeStreams, NumericSum, promote } from '../../../../src/collection/aggregate/merge.js';

function sum(...values: unknown[]): NumericSum {
  const s = new NumericSum();
  for (const v of values) s.add(v);
  return s;
}

describe('aggregate/merge', () => {
  describe('NumericSum', () => {
    it('adds int32 partials as an int32 and widens to a long past its range, as $sum does', () => {
      expect(sum(new Int32(2), 3).value()).to.equal(5);
      const big = sum(new Int32(2 ** 31 - 1), new Int32(1)).value();
      expect(big).to.be.instanceOf(Long);
      expect((big as Long).toBigInt()).to.equal(2n ** 31n);
    });

    it('keeps long partials exact beyond 2^53, where JS numbers would round', () => {
      const v = sum(Long.fromBigInt(2n ** 60n), Long.fromBigInt(1n), new Int32(1)).value() as Long;
      expect(v.toBigInt()).to.equal(2n ** 60n + 2n);
    });

    it('turns into a double once any double is added, and ignores non-numbers', () => {
      expect(sum(1, new Double(0.5), 'x', null, undefined, [1]).value()).to.equal(1.5);
      expect(sum(1, 'x').count).to.equal(1);
    });

    it('refuses Decimal128 partials rather than adding them inexactly', () => {
      try {
        sum({ _bsontype: 'Decimal128', toString: () => '1.1' });
        expect.fail('no error');
      } catch (error) {
        expect((error as ShardkitError).code).to.equal(ErrorCode.aggregateUnsupportedAccumulator);
      }
    });
  });

  describe('#mergeGroups', () => {
    it('merges partials of one key from every shard, keys equal under BSON comparison counting as one', () => {
      const fields = [
        { name: 's', op: '$sum' as const, parts: ['s'] },
        { name: 'a', op: '$avg' as const, parts: ['as', 'an'] },
        { name: 'mn', op: '$min' as const, parts: ['mn'] },
        { name: 'mx', op: '$max' as const, parts: ['mx'] },
        { name: 'p', op: '$push' as const, parts: ['p'] },
        { name: 'u', op: '$addToSet' as const, parts: ['u'] },
        { name: 'c', op: '$sum' as const, parts: ['c'] },
      ];
      const out = mergeGroups(
        [
          [{ _id: 1, s: 3, as: 3, an: 2, mn: null, mx: 'b', p: [1, 2], u: [1, 'x'], c: 2 }],
          [{ _id: new Long(1), s: new Int32(4), as: 6, an: 1, mn: 5, mx: 7, p: [3], u: [1.0, 'y'], c: 1 }],
          [{ _id: 2, s: 0, as: 0, an: 0, mn: null, mx: null, p: [], u: [], c: 1 }],
        ],
        fields,
      );
      expect(out).to.have.length(2);
      expect(out[0]).to.deep.equal({ _id: 1, s: 7, a: 3, mn: 5, mx: 'b', p: [1, 2, 3], u: [1, 'x', 'y'], c: 3 });
      expect(out[1]).to.deep.equal({ _id: 2, s: 0, a: null, mn: null, mx: null, p: [], u: [], c: 1 });
    });
  });

  describe('#mergeSorted', () => {
    it('merges sorted shard streams k-way into one sorted stream', () => {
      const out = mergeSorted(
        [[{ n: 1 }, { n: 4 }, { n: 9 }], [], [{ n: 2 }, { n: 3 }, { n: 10 }], [{ n: 'a' }]],
        [{ path: 'n', dir: 1 }],
      );
      expect(out.map((d) => d['n'])).to.deep.equal([1, 2, 3, 4, 9, 10, 'a']);
    });
  });

  describe('#mergeStreams', () => {
    it('sums per-shard counts, and answers no document for a count of nothing', () => {
      expect(mergeStreams([[{ n: 2 }], [], [{ n: new Int32(5) }]], { kind: 'count', field: 'n' }, 0, undefined)).to.deep.equal([{ n: 7 }]);
      expect(mergeStreams([[], []], { kind: 'count', field: 'n' }, 0, undefined)).to.deep.equal([]);
    });

    it('skips and limits after the merge', () => {
      const out = mergeStreams([[{ n: 1 }, { n: 3 }], [{ n: 2 }, { n: 4 }]], { kind: 'sort', sort: [{ path: 'n', dir: 1 }] }, 1, 2);
      expect(out).to.deep.equal([{ n: 2 }, { n: 3 }]);
    });
  });

  it('promotes BSON wrappers to the values the driver hands applications', () => {
    expect(promote({ a: new Int32(1), b: new Double(2.5), c: Long.fromNumber(3), d: [new Int32(4)] })).to.deep.equal({ a: 1, b: 2.5, c: 3, d: [4] });
  });
});
