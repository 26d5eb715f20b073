import { expect } from 'chai';
import fc from 'fast-check';
import { uniformKeys } from '../../../../src/lab/keys.js';
import { MaglevScheme, isPrime, maglevPermutation, maglevTable } from '../../../../src/lab/schemes/maglev.js';
import { shards } from '../helpers.js';

describe('lab Maglev hashing', () => {
  it('gives every backend a preference list that is a permutation of the slots', () => {
    for (const size of [7, 13, 251, 65537]) {
      for (const id of ['s1', 'backend-42', 'x']) {
        const { offset, skip } = maglevPermutation(id, size);
        const seen = new Uint8Array(size);
        for (let j = 0; j < size; j++) seen[(offset + j * skip) % size] = 1;
        expect(seen.every((v) => v === 1), `${id} in ${size}`).to.equal(true);
      }
    }
  });

  it('fills the table with the paper’s balance: with equal weights every backend has floor(M/N) or ceil(M/N) slots', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 120 }), fc.constantFrom(251, 1009, 65537), (n, size) => {
        if (n > size) return;
        const table = maglevTable(shards(n), size);
        const c = new Uint32Array(n);
        for (const o of table) c[o]!++;
        expect(Math.min(...c)).to.equal(Math.floor(size / n));
        expect(Math.max(...c)).to.equal(Math.ceil(size / n));
      }),
      { numRuns: 25 },
    );
  });

  it('does not depend on the order the backends are listed in', () => {
    const list = shards(9);
    const a = new MaglevScheme(list, 1009);
    const b = new MaglevScheme([...list].reverse(), 1009);
    const keys = uniformKeys(2000);
    expect(a.assign(keys)).to.deep.equal(b.assign(keys));
  });

  it('gives weighted backends slots in proportion to their weights', () => {
    const s = new MaglevScheme([{ id: 'a', weight: 1 }, { id: 'b', weight: 3 }], 65537);
    const shares = s.exactShares();
    expect(shares.get('a')).to.be.closeTo(0.25, 0.001);
    expect(shares.get('b')).to.be.closeTo(0.75, 0.001);
  });

  it('moves a little more than the minimum when a backend joins, and measures it exactly over the slots', () => {
    const before = new MaglevScheme(shards(10), 65537);
    const after = before.apply({ kind: 'add', id: 'new', weight: 1 }).scheme;
    const moved = after.exactMoved(before)!;
    const minimal = after.exactShares()!.get('new')!;
    expect(minimal).to.be.closeTo(1 / 11, 1e-4);
    expect(moved).to.be.at.least(minimal);
    // The paper's point: disruption stays close to the minimum (here within 20% of it).
    expect(moved / minimal).to.be.below(1.2);
    expect(after.exactMoved(new MaglevScheme(shards(10), 1009))).to.equal(undefined);
  });

  it('refuses a table size that is not a prime, and looks keys up where assign puts them', () => {
    expect(() => maglevTable(shards(3), 100)).to.throw(/must be a prime/);
    expect(isPrime(65537)).to.equal(true);
    expect(isPrime(655373)).to.equal(true);
    expect(isPrime(1)).to.equal(false);
    const s = new MaglevScheme(shards(5), 251);
    const keys = uniformKeys(200);
    const owners = s.assign(keys);
    keys.keys.forEach((k, i) => expect(s.lookup(k)).to.equal(owners[i]));
    expect(s.byteSize()).to.equal(502);
  });
});
