import { expect } from 'chai';
import fc from 'fast-check';
import { uniformKeys } from '../../../../src/lab/keys.js';
import { RendezvousScheme } from '../../../../src/lab/schemes/rendezvous.js';
import { KEYS_20K, counts, movement, shards } from '../helpers.js';

describe('lab rendezvous hashing', () => {
  it('moves exactly the minimum on a join, weighted or not: every moved key goes to the new shard', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.boolean(), fc.constantFrom(0.5, 1, 2.5), (n, weighted, w) => {
        const before = new RendezvousScheme(shards(n, (i) => (weighted ? 1 + (i % 3) : 1)));
        const after = before.apply({ kind: 'add', id: 'new', weight: weighted ? w : 1 }).scheme;
        const m = movement(before, after, KEYS_20K, 'new');
        expect(m.onlyTouching).to.equal(true);
        expect([...m.movedTo.keys()]).to.deep.equal(m.moved === 0 ? [] : ['new']);
        expect(m.moved).to.equal(counts(after.assign(KEYS_20K)).get('new') ?? 0);
      }),
      { numRuns: 12 },
    );
  });

  it('moves only the removed shard’s keys on a removal, and brings them back on recovery', () => {
    const s = new RendezvousScheme(shards(12));
    const failed = s.apply({ kind: 'remove', id: 's5' }).scheme;
    const m = movement(s, failed, KEYS_20K, 's5');
    expect(m.onlyTouching).to.equal(true);
    expect(m.moved).to.equal(counts(s.assign(KEYS_20K)).get('s5'));
    const back = failed.apply({ kind: 'add', id: 's5', weight: 1 }).scheme;
    expect(back.assign(KEYS_20K)).to.deep.equal(s.assign(KEYS_20K));
  });

  it('gives each shard a share proportional to its weight', () => {
    const s = new RendezvousScheme([
      { id: 'a', weight: 1 },
      { id: 'b', weight: 2 },
      { id: 'c', weight: 5 },
    ]);
    const c = counts(s.assign(KEYS_20K));
    // 20k keys: the standard error of a 1/8 share is 0.23%; 1% is > 4 sigma.
    expect(c.get('a')! / KEYS_20K.size).to.be.closeTo(1 / 8, 0.01);
    expect(c.get('b')! / KEYS_20K.size).to.be.closeTo(2 / 8, 0.012);
    expect(c.get('c')! / KEYS_20K.size).to.be.closeTo(5 / 8, 0.014);
    const r = s.apply({ kind: 'reweight', id: 'b', weight: 4 });
    expect(movement(s, r.scheme, KEYS_20K, 'b').onlyTouching).to.equal(true);
  });

  it('looks a key up where assign puts it, on both the equal and the weighted path', () => {
    const keys = uniformKeys(300);
    for (const s of [new RendezvousScheme(shards(9)), new RendezvousScheme(shards(9, (i) => i + 1))]) {
      const owners = s.assign(keys);
      keys.keys.forEach((k, i) => expect(s.lookup(k)).to.equal(owners[i]));
      expect(s.exactShares()).to.equal(undefined);
      expect(s.exactMoved()).to.equal(undefined);
      expect(s.byteSize()).to.equal(9 * 12);
    }
  });
});
