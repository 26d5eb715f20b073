import { expect } from 'chai';
import fc from 'fast-check';
import { LRUCache } from 'lru-cache';
import { ObjectId } from 'mongodb';
import { ErrorCode, ShardkitConflictError, ShardkitInputError, ShardkitInvalidArgumentError } from '../../../src/errors.js';
import type { ShardKey } from '../../../src/hash/types.js';
import { Ring } from '../../../src/ring/ring.js';
import { DEFAULT_CACHE_SIZE, DEFAULT_RECENCY_SAMPLE, ShardRouter } from '../../../src/router/router.js';
import { Topology } from '../../../src/topology/topology.js';
import type { HashName } from '../../../src/hash/types.js';
import type { TopologySpec } from '../../../src/topology/types.js';

function spec(ids: readonly string[], over: Partial<TopologySpec> = {}): TopologySpec {
  return {
    name: 'test',
    epoch: 1,
    hash: 'xxhash32',
    vnodes: 64,
    placement: 'hashed',
    shards: ids.map((id) => ({ id, weight: 1 })),
    ...over,
  };
}

const anyKey = (): fc.Arbitrary<ShardKey> =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', 'toString', ''),
    fc.maxSafeInteger(),
    fc.bigInt(),
    fc.uint8Array({ maxLength: 24 }),
    fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(b)),
  );

describe('router/ShardRouter', function () {
  describe('.fromTopology', function () {
    it('validates a plain topology and defaults the cache size', function () {
      const router = ShardRouter.fromTopology(spec(['a', 'b']));
      expect(router.topology).to.be.instanceOf(Topology);
      expect(router.epoch).to.equal(1);
      expect(router.cacheSize).to.equal(DEFAULT_CACHE_SIZE);
      expect(router.ring.shardIds).to.deep.equal(['a', 'b']);
    });

    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 24 + 1]) {
      context(`when cacheSize is ${bad}`, function () {
        it('throws shardkit.invalidArgument', function () {
          expect(() => ShardRouter.fromTopology(spec(['a']), { cacheSize: bad })).to.throw(ShardkitInvalidArgumentError);
        });
      });
    }

    for (const bad of [0, 3, 1.5, 2048, Number.NaN]) {
      context(`when recencySample is ${bad}`, function () {
        it('throws shardkit.invalidArgument', function () {
          expect(() => ShardRouter.fromTopology(spec(['a']), { recencySample: bad })).to.throw(ShardkitInvalidArgumentError, /power of two/);
        });
      });
    }

    context('when the topology is invalid', function () {
      it('throws the topology validation error', function () {
        expect(() => ShardRouter.fromTopology(spec([]))).to.throw(ShardkitInputError);
      });
    });
  });

  describe('#route', function () {
    for (const hash of ['xxhash32', 'ketama'] as HashName[]) {
      // 8: a hot set of 8 that starts afresh all the time (up to 30 keys); 3: too small for a hot set.
      for (const cacheSize of [0, 3, 8, 1000]) {
        context(`when the hash is ${hash} and cacheSize is ${cacheSize}`, function () {
          it('answers exactly what ring.route answers, for every kind of key, repeatedly', function () {
            const t = spec(['s1', 's2', 's3', 's4'], { hash });
            const router = ShardRouter.fromTopology(t, { cacheSize });
            const ring = Ring.fromTopology(t);
            fc.assert(
              fc.property(fc.array(anyKey(), { maxLength: 30 }), (keys) => {
                // Each key four times: the second sighting admits it, the third is a hit that promotes
                // it to the hot set, the fourth a hit there.
                for (const key of [...keys, ...keys, ...keys, ...keys]) expect(router.route(key)).to.equal(ring.route(key));
              }),
              { numRuns: 150 },
            );
          });
        });
      }
    }

    it('is deterministic across router instances', function () {
      const a = ShardRouter.fromTopology(spec(['x', 'y', 'z']));
      const b = ShardRouter.fromTopology(spec(['x', 'y', 'z']), { cacheSize: 0 });
      fc.assert(
        fc.property(anyKey(), (key) => {
          expect(a.route(key)).to.equal(b.route(key));
        }),
      );
    });

    it('routes 42, 42n and "42" to the same shard', function () {
      const router = ShardRouter.fromTopology(spec(['a', 'b', 'c', 'd', 'e']));
      for (let i = 0; i < 200; i++) {
        expect(router.route(i)).to.equal(router.route(String(i)));
        expect(router.route(BigInt(i))).to.equal(router.route(String(i)));
      }
    });

    it('keys named after Object.prototype members route and cache like any other', function () {
      const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 10 });
      const ring = router.ring;
      for (let i = 0; i < 3; i++) {
        for (const key of ['__proto__', 'constructor', 'toString', 'valueOf']) expect(router.route(key)).to.equal(ring.route(key));
      }
      expect(router.stats().hits).to.be.greaterThan(0);
    });

    for (const bad of [1.5, null, undefined, true, {}, [], Number.NaN]) {
      context(`when the key is ${String(bad)}`, function () {
        it('throws shardkit.key.invalid', function () {
          const router = ShardRouter.fromTopology(spec(['a']));
          expect(() => router.route(bad as unknown as ShardKey))
            .to.throw(ShardkitInputError)
            .with.property('code', ErrorCode.keyInvalid);
        });
      });
    }
  });

  describe('#point', function () {
    it("is the ring hash's point of the key", function () {
      const router = ShardRouter.fromTopology(spec(['a'], { hash: 'ketama' }));
      fc.assert(
        fc.property(anyKey(), (key) => {
          expect(router.point(key)).to.equal(router.ring.hash.point(key));
        }),
      );
    });
  });

  describe('cache admission', function () {
    context('when keys are seen once (a scan)', function () {
      it('caches almost none of them', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000 });
        for (let i = 0; i < 4000; i++) router.route(`scan:${i}`);
        const { cached, hits } = router.stats();
        // Only doorkeeper false positives get in: about 6% of the keys (~240 of 4000) on average.
        expect(cached).to.be.below(400);
        expect(hits).to.equal(0);
      });
    });

    context('when a hot set is re-read', function () {
      it('admits it on the second sighting and serves it from the cache after', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000 });
        const hot = Array.from({ length: 500 }, (_, i) => `hot:${i}`);
        for (const k of hot) router.route(k);
        for (const k of hot) router.route(k);
        router.resetStats();
        for (const k of hot) router.route(k);
        expect(router.stats().hits).to.equal(hot.length);
        expect(router.stats().misses).to.equal(0);
      });

      it('keeps the hot set cached while a scan passes through', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000 });
        const hot = Array.from({ length: 500 }, (_, i) => `hot:${i}`);
        for (let r = 0; r < 2; r++) for (const k of hot) router.route(k);
        for (let i = 0; i < 5000; i++) {
          router.route(`scan:${i}`);
          if (i % 10 === 0) router.route(hot[(i / 10) % hot.length]!);
        }
        router.resetStats();
        for (const k of hot) router.route(k);
        // A plain LRU of 1000 would hold none of the hot set after 5000 distinct scan keys.
        expect(router.stats().hits).to.be.above(hot.length * 0.9);
      });
    });

    context('when most lookups miss (a long scan of distinct keys)', function () {
      it('bypasses the cache, still routing every key exactly', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000 });
        const ring = router.ring;
        for (let i = 0; i < 40_000; i++) expect(router.route(`scan:${i}`)).to.equal(ring.route(`scan:${i}`));
        expect(router.stats().cacheBypassed).to.equal(true);
      });

      it('probes the cache only for keys the doorkeeper has seen (a probe of a key the cache lacks is dear)', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000 });
        for (let i = 0; i < 40_000; i++) router.route(`scan:${i}`);
        expect(router.stats().cacheBypassed).to.equal(true);
        const get = LRUCache.prototype.get;
        let looks = 0;
        LRUCache.prototype.get = function (this: LRUCache<string, number>, ...args: Parameters<typeof get>) {
          looks++;
          return get.apply(this, args);
        } as typeof get;
        try {
          // 64,000 new distinct keys: about 1000 probes, which look into the cache only for the
          // doorkeeper's false positives (about 6% of the keys it has not seen).
          for (let i = 0; i < 64_000; i++) expect(router.route(`fresh:${i}`)).to.equal(router.ring.route(`fresh:${i}`));
        } finally {
          LRUCache.prototype.get = get;
        }
        expect(looks).to.be.below(200);
      });

      it('returns to the cache once a hot set comes back', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000 });
        for (let i = 0; i < 40_000; i++) router.route(`scan:${i}`);
        const hot = Array.from({ length: 200 }, (_, i) => `hot:${i}`);
        // Probes (1 in 64) admit the hot keys; the window after they hit, the bypass ends.
        for (let r = 0; r < 300; r++) for (const k of hot) router.route(k);
        expect(router.stats().cacheBypassed).to.equal(false);
        router.resetStats();
        for (const k of hot) expect(router.route(k)).to.equal(router.ring.route(k));
        expect(router.stats().hits).to.equal(hot.length);
      });
    });

    context('when the router switches between caching and bypassing', function () {
      // Hits and misses are not both counted on the hot path: each mode counts one kind on its slow
      // path and the per-shard counts give the rest, so a switch must close the segment exactly.
      it('keeps hits + misses equal to the lookups, and hits equal to the lookups the cache answered', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000 });
        const total = (): number => Object.values(router.stats().perShard).reduce((x, y) => x + y, 0);
        const hot = Array.from({ length: 200 }, (_, i) => `hot:${i}`);
        for (let r = 0; r < 3; r++) for (const k of hot) router.route(k);
        const before = router.stats();
        for (let i = 0; i < 40_000; i++) router.route(`scan:${i}`);
        const scanned = router.stats();
        expect(scanned.cacheBypassed).to.equal(true);
        expect(scanned.hits + scanned.misses).to.equal(total());
        // No scan key repeats, so only doorkeeper false positives could ever hit: none do here.
        expect(scanned.hits).to.equal(before.hits);
        for (let r = 0; r < 300; r++) for (const k of hot) router.route(k);
        const back = router.stats();
        expect(back.cacheBypassed).to.equal(false);
        expect(back.hits + back.misses).to.equal(total());
        router.resetStats();
        for (const k of hot) router.route(k);
        expect(router.stats()).to.include({ hits: hot.length, misses: 0 });
      });

      it('counts a key that is never cached (a bigint) as a miss in either mode', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b']), { cacheSize: 10 });
        for (let r = 0; r < 3; r++) router.route('k');
        router.resetStats();
        router.route(7n);
        router.route('k');
        expect(router.stats()).to.include({ hits: 1, misses: 1 });
        for (let i = 0; i < 40_000; i++) router.route(`scan:${i}`);
        expect(router.stats().cacheBypassed).to.equal(true);
        router.resetStats();
        router.route(7n);
        expect(router.stats()).to.include({ hits: 0, misses: 1 });
      });
    });

    context('sampled recency (one hit in recencySample refreshes the key)', function () {
      // One shard, so its count (the sampler) is the number of lookups so far. Two entries: a and b
      // are admitted on their second sighting, a is hit once, then c's admission evicts the entry
      // lru-cache holds as least recently used.
      function afterOneHit(recencySample: number): ShardRouter {
        const router = ShardRouter.fromTopology(spec(['only']), { cacheSize: 2, recencySample });
        for (const k of ['a', 'a', 'b', 'b']) router.route(k);
        expect(router.stats()).to.include({ cached: 2, hits: 0 });
        router.route('a');
        expect(router.stats().hits).to.equal(1);
        for (const k of ['c', 'c']) router.route(k);
        router.resetStats();
        return router;
      }

      it('an exact LRU (recencySample 1) refreshes a on its hit, so c evicts b', function () {
        const router = afterOneHit(1);
        router.route('a');
        expect(router.stats().hits).to.equal(1);
        router.route('b');
        expect(router.stats().misses).to.equal(1);
      });

      it('by default the 5th lookup only peeks, so a stays least recent and c evicts it', function () {
        const router = afterOneHit(DEFAULT_RECENCY_SAMPLE);
        // b first: a's miss re-admits a (seen before), which would evict b.
        router.route('b');
        expect(router.stats().hits).to.equal(1);
        router.route('a');
        expect(router.stats().misses).to.equal(1);
      });

      it('by default the 16th lookup only peeks too; the 64th refreshes the key it hits', function () {
        const run = (lookupsOfA: number): { hits: number; misses: number } => {
          const router = ShardRouter.fromTopology(spec(['only']), { cacheSize: 2 });
          for (const k of ['a', 'a', 'b', 'b']) router.route(k);
          for (let i = 5; i <= lookupsOfA; i++) router.route('a');
          for (const k of ['c', 'c']) router.route(k);
          router.resetStats();
          router.route('a');
          return router.stats();
        };
        // Refreshed a (hit) or left it least recent, so c's admission evicted it (miss).
        expect(run(16)).to.include({ hits: 0, misses: 1 });
        expect(run(64)).to.include({ hits: 1, misses: 0 });
      });

      it('the 16th lookup of a shard refreshes the key it hits', function () {
        const router = ShardRouter.fromTopology(spec(['only']), { cacheSize: 2, recencySample: 16 });
        for (const k of ['a', 'a', 'b', 'b']) router.route(k);
        for (let i = 5; i <= 16; i++) router.route('a');
        for (const k of ['c', 'c']) router.route(k);
        router.resetStats();
        router.route('a');
        expect(router.stats()).to.include({ hits: 1, misses: 0 });
        router.route('b');
        expect(router.stats()).to.include({ hits: 1, misses: 1 });
      });
    });

    context('the hot set in front of the cache', function () {
      it('answers a key the cache answered lately, even once the cache has evicted it', function () {
        // One shard, 8 entries, so a hot set of 8. a is admitted on its second lookup and promoted by
        // its hit; eight keys admitted after it evict it from the cache (its hit only peeked).
        const router = ShardRouter.fromTopology(spec(['only']), { cacheSize: 8 });
        for (let r = 0; r < 3; r++) router.route('a');
        expect(router.stats()).to.include({ hits: 1, hot: 1 });
        for (let i = 0; i < 8; i++) for (let r = 0; r < 2; r++) router.route(`k${i}`);
        expect(router.stats().cached).to.equal(8);
        router.resetStats();
        expect(router.route('a')).to.equal('only');
        expect(router.stats()).to.include({ hits: 1, misses: 0 });
      });

      it('holds at most cacheSize keys, and starts afresh when full', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 4 });
        const keys = ['w', 'x', 'y', 'z'];
        // Admitted on their second lookups, promoted by their hits.
        for (const k of keys) for (let r = 0; r < 2; r++) router.route(k);
        expect(router.stats().hot).to.equal(0);
        for (const k of keys) router.route(k);
        expect(router.stats()).to.include({ hot: 4, hits: 4 });
        // v is admitted (evicting w from the cache); its hit finds the hot set full, which starts afresh.
        for (let r = 0; r < 3; r++) router.route('v');
        expect(router.stats()).to.include({ hot: 1, hits: 5 });
        expect(router.route('x')).to.equal(router.ring.route('x'));
        expect(router.stats()).to.include({ hot: 2, hits: 6 });
        for (let r = 0; r < 3; r++) for (let i = 0; i < 100; i++) router.route(`k${i}`);
        expect(router.stats().hot).to.be.at.most(4);
      });

      it('is not kept by an exact LRU (recencySample 1), whose every hit refreshes its key', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b']), { cacheSize: 100, recencySample: 1 });
        for (let r = 0; r < 4; r++) for (let i = 0; i < 50; i++) router.route(`k${i}`);
        // 100 hits (a doorkeeper false positive may admit a key on its first lookup: one more).
        expect(router.stats().hits).to.be.at.least(100);
        expect(router.stats().hot).to.equal(0);
      });
    });

    context('asking lru-cache by sample (the hot set misses it mostly)', function () {
      // A window ends on its 8192th miss; the decision applies to the next window.
      const hot = Array.from({ length: 100 }, (_, i) => `hot:${i}`);
      /** Half the lookups on 100 hot keys (in the hot set), half on keys never seen before. */
      function skewed(router: ShardRouter, steps: number, from = 0): void {
        for (let i = from; i < from + steps; i++) {
          expect(router.route(`once:${i}`)).to.equal(router.ring.route(`once:${i}`));
          expect(router.route(hot[i % hot.length]!)).to.equal(router.ring.route(hot[i % hot.length]!));
        }
      }

      it('asks it on 1 hot-set miss in 8 after a window in which it answered fewer than half of them', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000 });
        skewed(router, 7900);
        expect(router.stats().cacheSampled).to.equal(false);
        skewed(router, 500, 7900);
        // Every hot-set miss asked lru-cache and none found its key: the next window samples.
        const first = router.stats();
        expect(first).to.include({ cacheSampled: true, cacheBypassed: false });
        expect(first.hits + first.misses).to.equal(2 * 8400);
        // Still caching: half the lookups hit the hot set; the others are misses whether asked or not.
        router.resetStats();
        skewed(router, 4000, 8400);
        expect(router.stats()).to.include({ hits: 4000, misses: 4000, cacheSampled: true });
      });

      it('admits only what asks it: a key looked up twice in a row is asked once at most, so not admitted', function () {
        // 4000 entries: room for every pair, and a doorkeeper that neither clears nor admits one-off keys
        // (false positives) often enough in this run to blur the counts.
        const sampled = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 4000 });
        skewed(sampled, 8400);
        const asking = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 4000 });
        skewed(asking, 4000);
        expect([sampled.stats().cacheSampled, asking.stats().cacheSampled]).to.deep.equal([true, false]);
        const before = [sampled.stats().cached, asking.stats().cached];
        for (let i = 0; i < 800; i++) {
          for (const router of [sampled, asking]) for (let r = 0; r < 2; r++) expect(router.route(`pair:${i}`)).to.equal(router.ring.route(`pair:${i}`));
        }
        // Asking on every miss, the second lookup of each pair admits it; sampling, at most a
        // doorkeeper false positive does (a key whose slot a key before it marked).
        expect(asking.stats().cached - before[1]!).to.equal(800);
        expect(sampled.stats().cached - before[0]!).to.be.below(40);
      });

      it('asks it on every hot-set miss again once it answers half of those that ask it', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000 });
        skewed(router, 8400);
        expect(router.stats().cacheSampled).to.equal(true);
        // 1200 keys drawn at random: the cache holds most of those it is asked for, and the hot set
        // (1000) starts afresh as it fills, so many lookups miss it and find their key in lru-cache.
        let x = 7;
        for (let i = 0; i < 200_000; i++) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          const key = `warm:${x % 1200}`;
          expect(router.route(key)).to.equal(router.ring.route(key));
        }
        expect(router.stats()).to.include({ cacheSampled: false, cacheBypassed: false });
      });

      it('never samples an exact LRU (recencySample 1): it has no hot set, and every lookup asks the cache', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b', 'c']), { cacheSize: 1000, recencySample: 1 });
        skewed(router, 8400);
        expect(router.stats()).to.include({ cacheSampled: false, cacheBypassed: false, hot: 0 });
      });
    });

    context('when the cache is disabled', function () {
      it('never hits', function () {
        const router = ShardRouter.fromTopology(spec(['a', 'b']), { cacheSize: 0 });
        for (let r = 0; r < 3; r++) for (let i = 0; i < 100; i++) router.route(`k${i}`);
        expect(router.stats()).to.include({ hits: 0, misses: 300, cached: 0 });
      });
    });

    it('never holds more than cacheSize keys', function () {
      const router = ShardRouter.fromTopology(spec(['a', 'b']), { cacheSize: 50 });
      for (let r = 0; r < 3; r++) for (let i = 0; i < 500; i++) router.route(`k${i}`);
      expect(router.stats().cached).to.be.at.most(50);
    });
  });

  describe('#setTopology', function () {
    it('routes by the new ring at once and never answers from the previous epoch', function () {
      fc.assert(
        fc.property(
          fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 40 }),
          fc.constantFrom<'xxhash32' | 'ketama'>('xxhash32', 'ketama'),
          fc.integer({ min: 1, max: 64 }),
          (keys, hash, cacheSize) => {
            const t1 = Topology.from(spec(['a', 'b', 'c'], { hash }));
            const t2 = t1.with({ kind: 'add', shard: { id: 'd', weight: 2 } });
            const t3 = t2.with({ kind: 'remove', id: 'a' });
            const router = ShardRouter.fromTopology(t1, { cacheSize });
            for (const t of [t2, t3]) {
              // Warm the cache and the hot set under the old epoch so stale entries would exist if not
              // cleared: a key is admitted on its second lookup and promoted on its third.
              for (let r = 0; r < 4; r++) for (const k of keys) router.route(k);
              router.setTopology(t);
              const ring = Ring.fromTopology(t);
              for (let r = 0; r < 4; r++) for (const k of keys) expect(router.route(k)).to.equal(ring.route(k));
              expect(router.epoch).to.equal(t.epoch);
            }
          },
        ),
        { numRuns: 100 },
      );
    });

    it('starts the new epoch with an empty cache and an empty hot set', function () {
      const t1 = Topology.from(spec(['a', 'b']));
      const router = ShardRouter.fromTopology(t1, { cacheSize: 100 });
      // Admitted on the second lookup, promoted to the hot set (of 100) by the third.
      for (let r = 0; r < 3; r++) for (let i = 0; i < 20; i++) router.route(`k${i}`);
      expect(router.stats()).to.include({ cached: 20, hot: 20 });
      router.setTopology(t1.with({ kind: 'add', shard: { id: 'c', weight: 1 } }));
      expect(router.stats()).to.include({ cached: 0, hot: 0 });
    });

    for (const epoch of [3, 2]) {
      context(`when the new epoch (${epoch}) is not newer than the current one (3)`, function () {
        it('refuses with shardkit.topology.staleEpoch and keeps routing as before', function () {
          const router = ShardRouter.fromTopology(spec(['a', 'b'], { epoch: 3 }));
          const before = router.ring;
          expect(() => router.setTopology(spec(['c'], { epoch })))
            .to.throw(ShardkitConflictError)
            .with.property('code', ErrorCode.staleEpoch);
          expect(router.ring).to.equal(before);
          expect(router.epoch).to.equal(3);
          expect(router.route('k')).to.be.oneOf(['a', 'b']);
        });
      });
    }

    context('when the new topology is invalid', function () {
      it('throws and keeps the current epoch', function () {
        const router = ShardRouter.fromTopology(spec(['a']));
        expect(() => router.setTopology(spec([], { epoch: 5 }))).to.throw(ShardkitInputError);
        expect(router.epoch).to.equal(1);
      });
    });
  });

  describe('#stats', function () {
    it('counts hits, misses and per-shard lookups, carried across epochs', function () {
      const t1 = Topology.from(spec(['a', 'b']));
      const router = ShardRouter.fromTopology(t1, { cacheSize: 100 });
      const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
      for (let r = 0; r < 3; r++) for (const k of keys) router.route(k);
      const s1 = router.stats();
      expect(s1.hits + s1.misses).to.equal(120);
      // Every first sighting misses and every third one hits; a doorkeeper false positive may
      // turn a second sighting into a hit as well.
      expect(s1.misses).to.be.at.least(40);
      expect(s1.hits).to.be.at.least(40);
      const want: Record<string, number> = { a: 0, b: 0 };
      for (const k of keys) want[router.ring.route(k)]! += 3;
      expect(s1.perShard).to.deep.equal(want);

      router.setTopology(t1.with({ kind: 'remove', id: 'a' }));
      for (const k of keys) router.route(k);
      const s2 = router.stats();
      expect(s2.epoch).to.equal(2);
      expect(s2.perShard).to.deep.equal({ a: want.a, b: want.b! + 40 });
    });

    it('resetStats zeroes the counters and keeps the cache', function () {
      const router = ShardRouter.fromTopology(spec(['a']), { cacheSize: 10 });
      for (let r = 0; r < 2; r++) router.route('k');
      router.resetStats();
      expect(router.stats()).to.deep.include({ hits: 0, misses: 0, perShard: { a: 0 }, cached: 1 });
    });
  });
});
