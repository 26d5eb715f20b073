import { expect } from 'chai';
import { uniformKeys } from '../../../../src/lab/keys.js';
import { MultiProbeScheme } from '../../../../src/lab/schemes/multi-probe.js';
import { KEYS_20K, counts, movement, params, shards } from '../helpers.js';

function peakToMean(s: MultiProbeScheme): number {
  const c = counts(s.assign(KEYS_20K));
  return Math.max(...c.values()) / (KEYS_20K.size / s.shards.length);
}

describe('lab multi-probe consistent hashing', () => {
  it('lowers peak/mean as probes rise (1 -> 3 -> 9 -> 21), towards the paper’s 1 + 1/(k-1)', () => {
    const list = shards(32);
    const peaks = [1, 3, 9, 21].map((probes) => peakToMean(new MultiProbeScheme(list, params({ probes }))));
    for (let i = 1; i < peaks.length; i++) expect(peaks[i], `probes step ${i}: ${peaks.join(', ')}`).to.be.below(peaks[i - 1]!);
    // One point per shard and one probe: a plain ring without vnodes, badly balanced.
    expect(peaks[0]).to.be.above(2);
    // 21 probes: epsilon = 0.05 in the paper; 625 keys a shard add ~+10% of sampling noise at the peak.
    expect(peaks[3]).to.be.below(1.2);
  });

  it('moves keys only to a joining shard and only from a leaving one', () => {
    const s = new MultiProbeScheme(shards(10), params());
    const joined = s.apply({ kind: 'add', id: 'new', weight: 1 });
    expect(joined.how).to.equal('native');
    expect(movement(s, joined.scheme, KEYS_20K, 'new').onlyTouching).to.equal(true);
    const left = s.apply({ kind: 'remove', id: 's4' });
    expect(left.how).to.equal('native');
    expect(movement(s, left.scheme, KEYS_20K, 's4').onlyTouching).to.equal(true);
  });

  it('emulates weights with ring points and says so', () => {
    const s = new MultiProbeScheme(shards(4), params());
    const r = s.apply({ kind: 'reweight', id: 's2', weight: 3 });
    expect(r.how).to.equal('emulated');
    expect(r.note).to.match(/no weights/);
    expect(s.apply({ kind: 'add', id: 'heavy', weight: 2 }).how).to.equal('emulated');
    const keys = uniformKeys(300);
    const owners = s.assign(keys);
    keys.keys.forEach((k, i) => expect(s.lookup(k)).to.equal(owners[i]));
    expect(s.exactShares()).to.equal(undefined);
    expect(s.exactMoved()).to.equal(undefined);
    expect(s.byteSize()).to.be.above(0);
  });
});
