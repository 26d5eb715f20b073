import { expect } from 'chai';
import fc from 'fast-check';
import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../../../src/errors.js';
import { ringHash } from '../../../src/hash/registry.js';
import { MAX_POINT, RING_SIZE } from '../../../src/ring/move.js';
import { Ring } from '../../../src/ring/ring.js';
import { Topology } from '../../../src/topology/topology.js';
import type { TopologyChange } from '../../../src/topology/types.js';
import { moveIndexOf, ownerByScan, probePoints, rng } from './helpers.js';

function hashed(shards: Array<{ id: string; weight?: number; draining?: boolean }>, vnodes = 160): Topology {
  return Topology.from({ vnodes, shards });
}

function ids(n: number, prefix = 's'): Array<{ id: string }> {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }));
}

describe('Ring', () => {
  describe('.fromTopology', () => {
    context('when placement is hashed with xxhash32', () => {
      it('places round(vnodes * weight) points hash("<id>#<i>") per shard', () => {
        const t = hashed([{ id: 'a', weight: 1 }, { id: 'b', weight: 2.5 }, { id: 'c', weight: 0.33 }], 40);
        const ring = Ring.fromTopology(t);
        const h = ringHash('xxhash32');
        const expected = new Map<number, string>();
        for (const s of t.shards) {
          for (let i = 0; i < Math.round(40 * s.weight); i++) {
            const p = h.pointOfString(`${s.id}#${i}`);
            const prev = expected.get(p);
            if (prev === undefined || s.id < prev) expected.set(p, s.id);
          }
        }
        expect(ring.points.length).to.equal(expected.size);
        for (let i = 0; i < ring.points.length; i++) {
          expect(ring.shardIds[ring.owners[i]!]).to.equal(expected.get(ring.points[i]!));
        }
      });

      it('keeps points strictly increasing', () => {
        const ring = Ring.fromTopology(hashed(ids(50)));
        for (let i = 1; i < ring.points.length; i++) expect(ring.points[i]!).to.be.greaterThan(ring.points[i - 1]!);
      });

      it('gives a point claimed by two shards to the smaller id, whatever the shard order', () => {
        // 2 x 204800 points: about 10 collisions expected between the two shards; these ids give 2.
        const h = ringHash('xxhash32');
        const a = new Set<number>();
        for (let i = 0; i < 204800; i++) a.add(h.pointOfString(`a#${i}`));
        const shared: number[] = [];
        for (let i = 0; i < 204800; i++) {
          const p = h.pointOfString(`b#${i}`);
          if (a.has(p)) shared.push(p);
        }
        expect(shared.length, 'collisions to test with').to.be.greaterThan(0);
        for (const order of [['a', 'b'], ['b', 'a']]) {
          const ring = Ring.fromTopology(Topology.from({ vnodes: 4096, shards: order.map((id) => ({ id, weight: 50 })) }));
          for (const p of shared) {
            const i = ring.locate(p);
            expect(ring.points[i]).to.equal(p);
            expect(ring.shardIds[ring.owners[i]!]).to.equal('a');
          }
        }
      });

      it('lists draining shards but gives them no point', () => {
        const t = hashed([{ id: 'a' }, { id: 'b', draining: true }, { id: 'c' }]);
        const ring = Ring.fromTopology(t);
        expect(ring.shardIds).to.deep.equal(['a', 'b', 'c']);
        expect([...ring.owners].includes(1)).to.equal(false);
        expect(ring.arcs().get('b')).to.equal(0);
      });

      it('carries the epoch and the hash of the topology', () => {
        const ring = Ring.fromTopology(Topology.from({ epoch: 7, hash: 'ketama', shards: [{ id: 'a' }] }));
        expect(ring.epoch).to.equal(7);
        expect(ring.hash.name).to.equal('ketama');
      });

      it('accepts a plain topology spec', () => {
        const t = hashed(ids(3));
        expect([...Ring.fromTopology(t.toJSON()).points]).to.deep.equal([...Ring.fromTopology(t).points]);
      });

      it('is deterministic', () => {
        fc.assert(
          fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z0-9:.-]{1,12}$/), { minLength: 1, maxLength: 8 }), (names) => {
            const t = hashed(names.map((id) => ({ id })), 16);
            const a = Ring.fromTopology(t);
            const b = Ring.fromTopology(Topology.from(t.toJSON()));
            expect([...a.points]).to.deep.equal([...b.points]);
            expect([...a.owners]).to.deep.equal([...b.owners]);
          }),
          { numRuns: 50 },
        );
      });

      it('gives each shard points that depend only on its own id and weight', () => {
        const alone = Ring.fromTopology(hashed([{ id: 'x', weight: 2 }], 32));
        const among = Ring.fromTopology(hashed([{ id: 'q' }, { id: 'x', weight: 2 }, { id: 'z', weight: 3 }], 32));
        const xIndex = among.shardIds.indexOf('x');
        const mine = [...among.points].filter((_, i) => among.owners[i] === xIndex);
        // x loses a point only on a tie with a smaller id; q is the only smaller id here.
        expect(mine.every((p) => alone.points.includes(p))).to.equal(true);
        expect(alone.points.length - mine.length).to.be.at.most(1);
      });
    });

    context('when there are more than 256 shards', () => {
      it('uses 16-bit owner indices', () => {
        expect(Ring.fromTopology(hashed(ids(256), 4)).owners).to.be.instanceOf(Uint8Array);
        expect(Ring.fromTopology(hashed(ids(257), 4)).owners).to.be.instanceOf(Uint16Array);
      });
    });

    context('when no shard owns a point', () => {
      it('throws shardkit.topology.noShards', () => {
        // round(1 * 0.4) = 0 points.
        const t = Topology.from({ vnodes: 1, shards: [{ id: 'a', weight: 0.4 }] });
        expect(() => Ring.fromTopology(t)).to.throw(ShardkitInputError).with.property('code', ErrorCode.topologyNoShards);
      });
    });

    it('builds a 1000-shard x 160-vnode ring with every point (build time is measured in bench/routing.ts)', function () {
      // 320k assertions: a liveness bound for a machine loaded by other jobs, not a speed check.
      this.timeout(120_000);
      const shardIds = ids(1000, 'shard-');
      const ring = Ring.fromTopology(hashed(shardIds));
      // Points that collide (a few birthday collisions among 160k) are kept once.
      const expected = new Set<number>();
      const h = ringHash('xxhash32');
      for (const { id } of shardIds) for (let i = 0; i < 160; i++) expected.add(h.pointOfString(`${id}#${i}`));
      expect(ring.points.length).to.equal(expected.size);
      for (let i = 1; i < ring.points.length; i++) expect(ring.points[i]! > ring.points[i - 1]!).to.equal(true);
      for (const p of ring.points) expect(expected.has(p)).to.equal(true);
    });
  });

  describe('#byteSize', () => {
    it('spends at most 2 bytes per point on the jump table (16-bit entries below 2^16 points)', () => {
      for (const [n, vnodes] of [[1, 64], [10, 160], [100, 160], [410, 160]] as const) {
        const ring = Ring.fromTopology(hashed(ids(n), vnodes));
        // The points are held with one sentinel point after them (ring.ts), which is not table.
        const table = ring.byteSize() - ring.points.byteLength - 4 - ring.owners.byteLength;
        expect(table / ring.points.length, `${n} shards x ${vnodes}`).to.be.at.most(2 + 4 / ring.points.length);
      }
    });

    it('stays within 8 bytes per vnode', () => {
      // 512 x 1: a power-of-two point count with 2-byte owners, where a full table and the sentinel
      // would take 8 bytes and a little more.
      for (const [n, vnodes] of [[1, 1], [3, 20], [10, 160], [300, 160], [512, 1], [1000, 160]] as const) {
        const ring = Ring.fromTopology(hashed(ids(n), vnodes));
        expect(ring.byteSize() / ring.points.length, `${n} shards x ${vnodes}`).to.be.at.most(8);
      }
    });
  });

  describe('#locate', () => {
    for (const [label, n, vnodes] of [['small (binary search)', 3, 5], ['large (16-bit jump table)', 20, 160]] as const) {
      context(`when the ring is ${label}`, () => {
        const ring = Ring.fromTopology(hashed(ids(n), vnodes));
        it('finds the first point >= the key point, wrapping to 0', () => {
          const probes = [0, 1, MAX_POINT, MAX_POINT - 1, ...ring.points, ...[...ring.points].map((p) => p + 1)];
          const next = rng(7);
          for (let i = 0; i < 2000; i++) probes.push(next());
          for (const p of probes) {
            if (p > MAX_POINT) continue;
            expect(ring.shardIds[ring.owners[ring.locate(p)]!], `point ${p}`).to.equal(ownerByScan(ring, p));
            const i = ring.locate(p);
            const first = ring.points[i]!;
            if (p <= ring.points[ring.points.length - 1]!) {
              expect(first).to.be.at.least(p);
              if (i > 0) expect(ring.points[i - 1]!).to.be.lessThan(p);
            } else {
              expect(i).to.equal(0);
            }
          }
        });
      });
    }

    it('finds the first point >= the key point past 2^16 points, where the jump table switches to 32-bit entries', () => {
      for (const n of [2 ** 16 - 1, 2 ** 16, 70_000]) {
        const random = rng(n);
        const next = (): number => random() >>> 0;
        const set = new Set<number>();
        while (set.size < n) set.add(next());
        const points = Uint32Array.from([...set].sort((a, b) => a - b));
        const ring = new Ring({ epoch: 1, hash: ringHash('xxhash32'), shardIds: ['a', 'b'], points, owners: Uint8Array.from(points, (_, i) => i % 2) });
        const probes = [0, 1, MAX_POINT, points[0]!, points[n - 1]!, points[n - 1]! + 1];
        for (let i = 0; i < 4000; i++) probes.push(next(), points[i * 16]!, points[i * 16]! + 1);
        // One assertion per ring: chai per probe would dominate the test's time.
        const wrong = probes.filter((p) => {
          if (p > MAX_POINT) return false;
          const i = ring.locate(p);
          if (p > points[n - 1]!) return i !== 0;
          return points[i]! < p || (i > 0 && points[i - 1]! >= p);
        });
        expect(wrong, `${n} points`).to.deep.equal([]);
      }
    });

    it('finds the first point >= the key point when a bucket holds many points, and past a point at 0xffffffff', () => {
      // Hand-made points crowd one bucket of the jump table (a hashed ring never does), so the
      // search must go past its three branch-free steps; the top point equals the sentinel's value.
      const crowd = Array.from({ length: 200 }, (_, i) => 5_000 + 3 * i);
      const spread = Array.from({ length: 100 }, (_, i) => 2 ** 24 + i * 2 ** 25);
      const points = Uint32Array.from([0, ...crowd, ...spread, MAX_POINT]);
      const ring = new Ring({ epoch: 1, hash: ringHash('xxhash32'), shardIds: ['a', 'b'], points, owners: Uint8Array.from(points, (_, i) => i % 2) });
      const probes = [0, 1, MAX_POINT, MAX_POINT - 1, 4_999, 5_000, 5_001, 5_598, 5_597, 5_599, 5_600];
      for (const p of points) probes.push(p, p + 1, Math.max(0, p - 1));
      const next = rng(11);
      for (let i = 0; i < 2000; i++) probes.push(next() >>> 0, 5_000 + (i % 700));
      const wrong = probes.filter((p) => {
        if (p > MAX_POINT) return false;
        const want = points.findIndex((q) => q >= p);
        return ring.locate(p) !== want;
      });
      expect(wrong).to.deep.equal([]);
    });

    it('rejects a point that is not a uint32', () => {
      const ring = Ring.fromTopology(hashed(ids(2)));
      for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
        expect(() => ring.locate(bad)).to.throw(ShardkitInvalidArgumentError);
      }
    });
  });

  describe('#route', () => {
    const ring = Ring.fromTopology(hashed(ids(5)));
    it('routes a key to the owner of its point', () => {
      fc.assert(
        fc.property(fc.string(), (key) => {
          expect(ring.route(key)).to.equal(ownerByScan(ring, ring.hash.point(key)));
          expect(ring.routeString(key)).to.equal(ring.route(key));
        }),
      );
    });

    it('routes 42 and "42" alike', () => {
      expect(ring.route(42)).to.equal(ring.route('42'));
    });

    it('rejects a key that is not a shard key', () => {
      expect(() => ring.route(null as never)).to.throw(ShardkitInputError).with.property('code', ErrorCode.keyInvalid);
    });
  });

  describe('#preferenceList', () => {
    const t = hashed([{ id: 'a' }, { id: 'b', weight: 2 }, { id: 'c' }, { id: 'd', draining: true }, { id: 'e' }], 8);
    const ring = Ring.fromTopology(t);

    it('lists n distinct shards in ring order, the owner first', () => {
      fc.assert(
        fc.property(fc.string(), fc.integer({ min: 1, max: 6 }), (key, n) => {
          const list = ring.preferenceList(key, n);
          expect(list.length).to.equal(Math.min(n, 4));
          expect(new Set(list).size).to.equal(list.length);
          expect(list[0]).to.equal(ring.route(key));
          expect(list).to.not.include('d');
          // Reference: walk the ring from the key's point.
          const start = ring.locate(ring.hash.point(key));
          const walk: string[] = [];
          for (let k = 0; k < ring.points.length; k++) {
            const id = ring.shardIds[ring.owners[(start + k) % ring.points.length]!]!;
            if (!walk.includes(id)) walk.push(id);
          }
          expect(list).to.deep.equal(walk.slice(0, n));
        }),
      );
    });

    it('returns nothing for n = 0 and rejects a negative or fractional n', () => {
      expect(ring.preferenceList('k', 0)).to.deep.equal([]);
      expect(() => ring.preferenceList('k', -1)).to.throw(ShardkitInvalidArgumentError);
      expect(() => ring.preferenceList('k', 1.5)).to.throw(ShardkitInvalidArgumentError);
    });
  });

  describe('#arcs', () => {
    it('counts exactly the points each shard owns, summing to 2^32', () => {
      const ring = Ring.fromTopology(hashed([{ id: 'a' }, { id: 'b', weight: 3 }, { id: 'c', draining: true }], 16));
      const arcs = ring.arcs();
      expect([...arcs.keys()]).to.deep.equal(['a', 'b', 'c']);
      expect([...arcs.values()].reduce((s, x) => s + x, 0)).to.equal(RING_SIZE);
      expect(arcs.get('c')).to.equal(0);
      // Reference: count each point's arc by scanning.
      const ref = new Map<string, number>([['a', 0], ['b', 0], ['c', 0]]);
      const n = ring.points.length;
      for (let i = 0; i < n; i++) {
        const len = i === 0 ? ring.points[0]! + 1 + (MAX_POINT - ring.points[n - 1]!) : ring.points[i]! - ring.points[i - 1]!;
        const id = ring.shardIds[ring.owners[i]!]!;
        ref.set(id, ref.get(id)! + len);
      }
      expect(arcs).to.deep.equal(ref);
    });

    it('gives a one-shard ring the whole space', () => {
      expect(Ring.fromTopology(hashed([{ id: 'a' }], 1)).arcs().get('a')).to.equal(RING_SIZE);
    });
  });

  describe('#diff', () => {
    it('is empty between a ring and itself', () => {
      const ring = Ring.fromTopology(hashed(ids(4)));
      expect(ring.diff(ring)).to.deep.equal([]);
    });

    const change = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), weight: fc.double({ min: 0.1, max: 4, noNaN: true }) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('reweight' as const), pick: fc.nat(), weight: fc.double({ min: 0.1, max: 4, noNaN: true }) }),
      fc.record({ kind: fc.constant('drain' as const), pick: fc.nat() }),
    );

    it('covers exactly the points whose owner changes, as sorted, disjoint, merged, non-wrapping moves', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 8 }),
          fc.constantFrom('xxhash32', 'ketama'),
          fc.array(change, { minLength: 1, maxLength: 3 }),
          fc.array(fc.string(), { minLength: 50, maxLength: 50 }),
          (n, hash, changes, keys) => {
            let t = Topology.from({ hash, vnodes: 12, shards: ids(n) });
            let added = 0;
            for (const c of changes) {
              const active = t.activeShards();
              const victim = active[('pick' in c ? c.pick : 0) % active.length]!.id;
              let next: TopologyChange;
              if (c.kind === 'add') next = { kind: 'add', shard: { id: `new${added++}`, weight: c.weight } };
              else if (c.kind === 'reweight') next = { kind: 'reweight', id: victim, weight: c.weight };
              else if (active.length > 1) next = c.kind === 'remove' ? { kind: 'remove', id: victim } : { kind: 'drain', id: victim };
              else continue;
              t = t.with(next);
            }
            const before = Ring.fromTopology(Topology.from({ hash, vnodes: 12, shards: ids(n) }));
            const after = Ring.fromTopology(t);
            const moves = before.diff(after);
            for (let i = 0; i < moves.length; i++) {
              const m = moves[i]!;
              expect(m.start).to.be.at.least(-1);
              expect(m.end).to.be.at.most(MAX_POINT);
              expect(m.start).to.be.lessThan(m.end);
              expect(m.from).to.not.equal(m.to);
              const prev = moves[i - 1];
              if (prev !== undefined) {
                expect(prev.end).to.be.at.most(m.start);
                if (prev.end === m.start) expect(prev.from !== m.from || prev.to !== m.to, 'merged').to.equal(true);
              }
            }
            const points = [...probePoints(before, after), ...keys.map((k) => before.hash.point(k))];
            for (const p of points) {
              const from = before.ownerOfPoint(p);
              const to = after.ownerOfPoint(p);
              const at = moveIndexOf(moves, p);
              expect(at !== -1, `point ${p} ${from} -> ${to}`).to.equal(from !== to);
              if (at !== -1) expect(moves[at]).to.include({ from, to });
            }
          },
        ),
        { numRuns: 60 },
      );
    });

    it('splits an arc that wraps around the top of the space', () => {
      const hash = ringHash('xxhash32');
      const shardIds = ['a', 'b'];
      const before = new Ring({ epoch: 1, hash, shardIds, points: Uint32Array.of(100, 1000), owners: Uint8Array.of(0, 1) });
      const after = new Ring({ epoch: 2, hash, shardIds, points: Uint32Array.of(100, 1000), owners: Uint8Array.of(1, 1) });
      expect(before.diff(after)).to.deep.equal([
        { start: -1, end: 100, from: 'a', to: 'b' },
        { start: 1000, end: MAX_POINT, from: 'a', to: 'b' },
      ]);
    });
  });

  context('when a single shard is added, removed or reweighted (hashed placement)', () => {
    it('moves keys only to or from that shard', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 2, max: 40 }),
          fc.array(fc.double({ min: 0.1, max: 5, noNaN: true }), { minLength: 40, maxLength: 40 }),
          fc.nat(),
          fc.constantFrom('add', 'remove', 'reweight', 'drain'),
          fc.double({ min: 0.1, max: 5, noNaN: true }),
          (n, weights, pick, kind, weight) => {
            const t = Topology.from({ vnodes: 32, shards: Array.from({ length: n }, (_, i) => ({ id: `s${i}`, weight: weights[i]! })) });
            const id = kind === 'add' ? 'joiner' : `s${pick % n}`;
            const change: TopologyChange =
              kind === 'add'
                ? { kind, shard: { id, weight } }
                : kind === 'reweight'
                  ? { kind, id, weight }
                  : { kind, id };
            const moves = Ring.fromTopology(t).diff(Ring.fromTopology(t.with(change)));
            for (const m of moves) expect(m.from === id || m.to === id, `${m.from} -> ${m.to}`).to.equal(true);
          },
        ),
        { numRuns: 80 },
      );
    });
  });

  describe('constructor', () => {
    const hash = ringHash('xxhash32');
    it('rejects points that are not strictly increasing and owners out of range', () => {
      expect(() => new Ring({ epoch: 1, hash, shardIds: ['a'], points: Uint32Array.of(5, 5), owners: Uint8Array.of(0, 0) })).to.throw(
        ShardkitInvalidArgumentError,
      );
      expect(() => new Ring({ epoch: 1, hash, shardIds: ['a'], points: Uint32Array.of(5), owners: Uint8Array.of(1) })).to.throw(
        ShardkitInvalidArgumentError,
      );
      expect(() => new Ring({ epoch: 1, hash, shardIds: ['a'], points: Uint32Array.of(5), owners: Uint8Array.of(0, 0) })).to.throw(
        ShardkitInvalidArgumentError,
      );
    });
  });
});
