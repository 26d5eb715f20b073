import { expect } from 'chai';
import { peakToMean, shareReport } from '../../../src/cli/shares.js';
import { Ring } from '../../../src/ring/ring.js';
import { Topology } from '../../../src/topology/topology.js';

describe('shares', () => {
  describe('#peakToMean', () => {
    it('measures load against each shard\'s weighted fair share, ignoring draining shards', () => {
      const t = Topology.from({ shards: [{ id: 'a', weight: 1 }, { id: 'b', weight: 3 }, { id: 'c', draining: true }] });
      expect(peakToMean(t, new Map([['a', 0.25], ['b', 0.75], ['c', 0]]))).to.equal(1);
      expect(peakToMean(t, new Map([['a', 0.5], ['b', 0.5], ['c', 0]]))).to.equal(2);
    });
  });

  describe('#shareReport', () => {
    it('gives exact shares that sum to 1 and the point count of each shard', () => {
      const t = Topology.from({ vnodes: 50, shards: [{ id: 'a' }, { id: 'b', weight: 2 }, { id: 'c', draining: true }] });
      const report = shareReport(t, Ring.fromTopology(t));
      const total = [...report.shares.values()].reduce((x, y) => x + y, 0);
      expect(total).to.be.closeTo(1, 1e-12);
      expect(report.points.get('a')).to.equal(50);
      expect(report.points.get('b')).to.equal(100);
      expect(report.shares.get('c')).to.equal(0);
      expect(report.peakToMean).to.be.at.least(1);
    });
  });
});
