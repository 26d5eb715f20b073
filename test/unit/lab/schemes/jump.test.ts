import { expect } from 'chai';
import fc from 'fast-check';
import { uniformKeys } from '../../../../src/lab/keys.js';
import { JumpScheme, jumpHash } from '../../../../src/lab/schemes/jump.js';
import { KEYS_20K, counts, movement, shards } from '../helpers.js';

describe('lab jump hash', () => {
  describe('#jumpHash', () => {
    it("matches the published example of go-jump-consistent-hash (jump.Hash(256, 1024) == 520)", () => {
      expect(jumpHash(0, 256, 1024)).to.equal(520);
    });

    it("computes the paper's C++ bit for bit (a BigInt transcription as the oracle)", () => {
      const reference = (key: bigint, n: number): number => {
        let b = -1;
        let j = 0;
        while (j < n) {
          b = j;
          key = (key * 2862933555777941757n + 1n) & 0xffffffffffffffffn;
          j = Math.floor((b + 1) * (2147483648 / Number((key >> 33n) + 1n)));
        }
        return b;
      };
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 100_000 }), (hi, lo, n) => {
          expect(jumpHash(hi, lo, n)).to.equal(reference((BigInt(hi) << 32n) | BigInt(lo), n));
        }),
        { numRuns: 300 },
      );
    });

    it('always returns a bucket in 0..n-1 and bucket 0 for one bucket', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 5000 }), (hi, lo, n) => {
          const b = jumpHash(hi, lo, n);
          expect(b).to.be.within(0, n - 1);
          expect(jumpHash(hi, lo, 1)).to.equal(0);
        }),
      );
    });

    it('changes a key only to the new bucket when a bucket is added', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 2000 }), (hi, lo, n) => {
          const a = jumpHash(hi, lo, n);
          const b = jumpHash(hi, lo, n + 1);
          expect(b === a || b === n).to.equal(true);
        }),
      );
    });
  });

  describe('JumpScheme', () => {
    it('moves exactly the minimum on a join: every moved key goes to the new shard', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 40 }), (n) => {
          const before = new JumpScheme(shards(n));
          const { scheme: after, how } = before.apply({ kind: 'add', id: 'new', weight: 1 });
          expect(how).to.equal('native');
          const m = movement(before, after, KEYS_20K, 'new');
          expect(m.onlyTouching).to.equal(true);
          // Moved == the new shard's keys == sum of max(0, after - before): the minimum.
          expect(m.moved).to.equal(counts(after.assign(KEYS_20K)).get('new'));
        }),
        { numRuns: 15 },
      );
    });

    it('emulates removing a middle bucket by moving the last shard into its slot, at a cost', () => {
      const before = new JumpScheme(shards(10));
      const { scheme: after, how, note } = before.apply({ kind: 'remove', id: 's3' });
      expect(how).to.equal('emulated');
      expect(note).to.match(/s10 moved from bucket 9 into s3's bucket 2/);
      expect(after.shards.map((s) => s.id)).to.deep.equal(['s1', 's2', 's10', 's4', 's5', 's6', 's7', 's8', 's9']);
      const m = movement(before, after, KEYS_20K, 's3');
      // s3's keys (1/10) move to s10, and s10's old keys (1/10) spread over the others.
      expect(m.moved / KEYS_20K.size).to.be.closeTo(0.2, 0.02);
      expect(m.onlyTouching).to.equal(false);
    });

    it('removes the last bucket natively and ignores reweights (no weights)', () => {
      const s = new JumpScheme(shards(4));
      expect(s.apply({ kind: 'remove', id: 's4' }).how).to.equal('native');
      const r = s.apply({ kind: 'reweight', id: 's2', weight: 3 });
      expect(r.how).to.equal('ignored');
      expect(r.scheme).to.equal(s);
      expect(s.exactShares()).to.equal(undefined);
      expect(s.exactMoved()).to.equal(undefined);
    });

    it('looks a key up where assign puts it', () => {
      const keys = uniformKeys(500);
      const s = new JumpScheme(shards(7));
      const owners = s.assign(keys);
      keys.keys.forEach((k, i) => expect(s.lookup(k)).to.equal(owners[i]));
    });
  });
});
