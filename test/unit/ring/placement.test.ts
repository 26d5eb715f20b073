import { expect } from 'chai';
import fc from 'fast-check';
import { ShardkitInvalidArgumentError } from '../../../src/errors.js';
import { applyChange, balancedTokens, withBalancedTokens } from '../../../src/ring/placement.js';
import { Ring } from '../../../src/ring/ring.js';
import { Topology } from '../../../src/topology/topology.js';
import type { TopologyChange } from '../../../src/topology/types.js';
import { peakToMean } from './helpers.js';

const PEAK = 1.02;

function balanced(n: number, weight: (i: number) => number = () => 1, vnodes = 64): Topology {
  return Topology.from({
    placement: 'balanced',
    vnodes,
    shards: Array.from({ length: n }, (_, i) => ({ id: `s${i}`, weight: weight(i) })),
  });
}

/** Apply a change and check what every balanced change must keep. */
function step(t: Topology, change: TopologyChange): Topology {
  const next = applyChange(t, change);
  const id = change.kind === 'add' ? change.shard.id : change.id;
  expect(next.epoch).to.equal(t.epoch + 1);
  const before = Ring.fromTopology(t);
  const after = Ring.fromTopology(next);
  for (const m of before.diff(after)) {
    expect(m.from === id || m.to === id, `${change.kind} ${id}: ${m.from} -> ${m.to}`).to.equal(true);
  }
  expect(peakToMean(next, after), `${change.kind} ${id}`).to.be.at.most(PEAK);
  // Every non-draining shard carries its tokens, so the ring does not depend on filling them.
  for (const s of next.activeShards()) expect(s.tokens?.length ?? 0, s.id).to.be.greaterThan(0);
  return next;
}

describe('placement', () => {
  describe('withBalancedTokens', () => {
    context('when no shard has tokens', () => {
      for (const n of [3, 4, 7, 10, 16, 33, 50, 64, 75, 99, 100]) {
        it(`spaces tokens so that peak/mean is ~1.0 for ${n} shards`, () => {
          for (const weight of [() => 1, (i: number) => 1 + (i % 4) / 2]) {
            const t = withBalancedTokens(balanced(n, weight));
            expect(peakToMean(t, Ring.fromTopology(t))).to.be.at.most(1.0001);
          }
        });
      }

      it('gives each shard round(vnodes * weight) tokens, at least 1', () => {
        const t = withBalancedTokens(balanced(5, (i) => [1, 0.5, 2.26, 0.001, 3][i]!));
        expect(t.shards.map((s) => s.tokens!.length)).to.deep.equal([64, 32, 145, 1, 192]);
      });

      it('is deterministic and keeps the epoch', () => {
        const a = withBalancedTokens(balanced(9));
        const b = withBalancedTokens(balanced(9));
        expect(a.toJSON()).to.deep.equal(b.toJSON());
        expect(a.epoch).to.equal(1);
      });
    });

    context('when every shard has tokens', () => {
      it('returns the topology as it is', () => {
        const t = withBalancedTokens(balanced(4));
        expect(withBalancedTokens(t)).to.equal(t);
      });
    });

    context('when some shards lack tokens', () => {
      it('places them as joins: the others keep their keys except what the new ones take', () => {
        const t = withBalancedTokens(balanced(6));
        const spec = t.toJSON();
        const partial = Topology.from({ ...spec, shards: [...spec.shards, { id: 'n1', weight: 1 }, { id: 'n2', weight: 2 }] });
        const filled = withBalancedTokens(partial);
        for (const m of Ring.fromTopology(t).diff(Ring.fromTopology(filled))) expect(['n1', 'n2']).to.include(m.to);
        expect(peakToMean(filled, Ring.fromTopology(filled))).to.be.at.most(PEAK);
        expect(Ring.fromTopology(partial).diff(Ring.fromTopology(filled)), 'the ring fills the same tokens').to.deep.equal([]);
      });
    });

    context('when placement is hashed', () => {
      it('returns the topology as it is', () => {
        const t = Topology.from({ shards: [{ id: 'a' }] });
        expect(withBalancedTokens(t)).to.equal(t);
      });
    });
  });

  describe('balancedTokens', () => {
    it('leaves draining shards without tokens', () => {
      const t = Topology.from({ placement: 'balanced', shards: [{ id: 'a' }, { id: 'b', draining: true }] });
      expect(balancedTokens(t).has('b')).to.equal(false);
    });
  });

  describe('applyChange', () => {
    context('when shards join one at a time from 3 to 100', () => {
      it('keeps peak/mean <= 1.02 and moves keys only to the new shard', function () {
        this.timeout(120_000);
        let t = withBalancedTokens(balanced(3));
        for (let n = 3; n < 100; n++) t = step(t, { kind: 'add', shard: { id: `j${n}`, weight: 1 } });
        const counts = t.shards.map((s) => s.tokens!.length);
        // About vnodes * weight each: a joiner takes a few extra tokens to serve every donor exactly.
        expect(Math.max(...counts)).to.be.at.most(64 * 1.25);
        expect(Math.min(...counts)).to.be.at.least(64 * 0.75);
      });
    });

    context('when shards leave one at a time from 100 to 3', () => {
      it('keeps peak/mean <= 1.02 and moves keys only from the leaving shard', function () {
        this.timeout(120_000);
        let t = withBalancedTokens(balanced(100));
        const meanTokens = (): number => t.shards.reduce((sum, s) => sum + s.tokens!.length, 0) / t.shards.length;
        for (let n = 100; n > 3; n--) {
          const active = t.activeShards();
          t = step(t, { kind: 'remove', id: active[(n * 37) % active.length]!.id });
          // Receivers gain tokens for the pieces they take; neighbours taking whole arcs keep it low.
          if (t.shards.length === 50) expect(meanTokens()).to.be.at.most(64 * 1.5);
        }
        expect(t.shards.length).to.equal(3);
        expect(meanTokens()).to.be.at.most(64 * 2);
      });
    });

    it('keeps every invariant under random add/remove/reweight/drain sequences', function () {
      this.timeout(120_000);
      const change = fc.oneof(
        fc.record({ kind: fc.constant('add' as const), weight: fc.double({ min: 0.25, max: 4, noNaN: true }) }),
        fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
        fc.record({ kind: fc.constant('reweight' as const), pick: fc.nat(), weight: fc.double({ min: 0.25, max: 4, noNaN: true }) }),
        fc.record({ kind: fc.constant('drain' as const), pick: fc.nat() }),
      );
      fc.assert(
        fc.property(fc.integer({ min: 3, max: 30 }), fc.array(change, { minLength: 1, maxLength: 8 }), (n, changes) => {
          let t = withBalancedTokens(balanced(n, (i) => 1 + (i % 3) / 2));
          let added = 0;
          for (const c of changes) {
            const active = t.activeShards();
            const id = active[('pick' in c ? c.pick : 0) % active.length]!.id;
            if (c.kind === 'add') t = step(t, { kind: 'add', shard: { id: `new${added++}`, weight: c.weight } });
            else if (c.kind === 'reweight') t = step(t, { kind: 'reweight', id, weight: c.weight });
            else if (active.length > 3) t = step(t, c.kind === 'remove' ? { kind: 'remove', id } : { kind: 'drain', id });
          }
        }),
        { numRuns: 40 },
      );
    });

    context('when a shard is reweighted', () => {
      it('moves keys only to the shard when its weight goes up, only from it when down', () => {
        const t = withBalancedTokens(balanced(10));
        const up = step(t, { kind: 'reweight', id: 's3', weight: 2 });
        for (const m of Ring.fromTopology(t).diff(Ring.fromTopology(up))) expect(m.to).to.equal('s3');
        const down = step(up, { kind: 'reweight', id: 's3', weight: 0.5 });
        for (const m of Ring.fromTopology(up).diff(Ring.fromTopology(down))) expect(m.from).to.equal('s3');
        // A lighter shard drops whole arcs, so its token count follows its weight.
        expect(down.shard('s3')!.tokens!.length).to.be.at.most(Math.round(64 * 0.5 * 1.25));
      });
    });

    context('when a shard drains', () => {
      it('hands out all its points and keeps no tokens', () => {
        const t = step(withBalancedTokens(balanced(5)), { kind: 'drain', id: 's1' });
        expect(t.shard('s1')!.tokens).to.deep.equal([]);
        expect(Ring.fromTopology(t).arcs().get('s1')).to.equal(0);
        // Removing it afterwards moves nothing.
        const removed = applyChange(t, { kind: 'remove', id: 's1' });
        expect(Ring.fromTopology(t).diff(Ring.fromTopology(removed))).to.deep.equal([]);
      });
    });

    context('when the added shard brings its own tokens', () => {
      it('keeps them', () => {
        const t = applyChange(withBalancedTokens(balanced(3)), { kind: 'add', shard: { id: 'x', weight: 1, tokens: [7, 1_000_000_007] } });
        expect(t.shard('x')!.tokens).to.deep.equal([7, 1_000_000_007]);
      });
    });

    context('when placement is hashed', () => {
      it('is Topology#with', () => {
        const t = Topology.from({ shards: [{ id: 'a' }, { id: 'b' }] });
        const change: TopologyChange = { kind: 'add', shard: { id: 'c', weight: 1 } };
        expect(applyChange(t, change).toJSON()).to.deep.equal(t.with(change).toJSON());
      });
    });

    it('rejects a plain spec', () => {
      expect(() => applyChange({} as Topology, { kind: 'remove', id: 'a' })).to.throw(ShardkitInvalidArgumentError);
    });

    it('is deterministic', () => {
      const t = withBalancedTokens(balanced(12, (i) => 1 + (i % 2)));
      const change: TopologyChange = { kind: 'add', shard: { id: 'z', weight: 1.5 } };
      expect(applyChange(t, change).toJSON()).to.deep.equal(applyChange(Topology.from(t.toJSON()), change).toJSON());
    });
  });
});
