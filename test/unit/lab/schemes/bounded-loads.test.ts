import { expect } from 'chai';
import fc from 'fast-check';
import { uniformKeys } from '../../../../src/lab/keys.js';
import { BoundedLoadsScheme, boundedCapacities } from '../../../../src/lab/schemes/bounded-loads.js';
import { RingScheme } from '../../../../src/lab/schemes/ring-scheme.js';
import { KEYS_20K, counts, params, shards } from '../helpers.js';

describe('lab consistent hashing with bounded loads', () => {
  it('never puts more than ceil(c * fair share) keys on a shard, for any c, shard count, weights and vnodes', () => {
    const keys = uniformKeys(5000);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(1, 1.05, 1.25, 2),
        fc.constantFrom(1, 4, 40),
        fc.boolean(),
        (n, c, vnodes, weighted) => {
          const list = shards(n, (i) => (weighted ? 1 + (i % 4) : 1));
          const s = new BoundedLoadsScheme(list, params({ loadFactor: c, vnodes }));
          const caps = boundedCapacities(list, keys.size, c);
          const got = counts(s.assign(keys));
          list.forEach((shard, i) => expect(got.get(shard.id) ?? 0, `${shard.id} of ${n}, c=${c}`).to.be.at.most(caps[i]!));
          if (!weighted) expect(Math.max(...got.values())).to.be.at.most(Math.ceil((c * keys.size) / n));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('places keys exactly as the plain hashed ring when no shard reaches its capacity', () => {
    const list = shards(8);
    const bounded = new BoundedLoadsScheme(list, params({ loadFactor: 100 }));
    const ring = RingScheme.create('hashed', list, params());
    expect(bounded.assign(KEYS_20K)).to.deep.equal(ring.assign(KEYS_20K));
  });

  it('flattens a lopsided ring: with one point per shard c = 1.05 caps the peak where the ring alone is far above it', () => {
    const list = shards(16);
    const ringPeak = Math.max(...counts(RingScheme.create('hashed', list, params({ vnodes: 1 })).assign(KEYS_20K)).values());
    const s = new BoundedLoadsScheme(list, params({ vnodes: 1, loadFactor: 1.05 }));
    const peak = Math.max(...counts(s.assign(KEYS_20K)).values());
    expect(ringPeak).to.be.above(Math.ceil((1.05 * KEYS_20K.size) / 16));
    expect(peak).to.be.at.most(Math.ceil((1.05 * KEYS_20K.size) / 16));
    expect(s.lookup('key:1')).to.be.a('string');
    const after = s.apply({ kind: 'add', id: 'x', weight: 1 });
    expect(after.how).to.equal('native');
    expect(after.scheme.shards).to.have.length(17);
    expect(s.exactShares()).to.equal(undefined);
    expect(s.exactMoved()).to.equal(undefined);
    expect(s.byteSize()).to.be.above(0);
  });
});
