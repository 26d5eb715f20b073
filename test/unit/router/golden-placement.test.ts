import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { xxhash32 } from '../../../src/hash/xxhash32.js';
import { Ring } from '../../../src/ring/ring.js';
import { ShardRouter } from '../../../src/router/router.js';
import { Topology } from '../../../src/topology/topology.js';
import type { TopologySpec } from '../../../src/topology/types.js';

type Row<K> = [K, number, string];
interface Golden {
  topologies: Record<string, TopologySpec>;
  rings: Record<string, { length: number; pointsDigest: number; ownersDigest: number }>;
  cases: Record<string, { strings: Array<Row<string>>; integers: Array<Row<number>>; bigints: Array<Row<string>>; bytes: Array<Row<string>> }>;
}

const golden = JSON.parse(readFileSync(new URL('../../fixtures/placement/golden.json', import.meta.url), 'utf8')) as Golden;

const bytesOf = (a: Uint32Array | Uint16Array | Uint8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// Routing is a contract across processes and versions: a document stored under one release must be
// found by the next. These placements were recorded before the hot-path work (test/fixtures/placement).
describe('golden placements (test/fixtures/placement/golden.json)', function () {
  for (const [name, spec] of Object.entries(golden.topologies)) {
    context(`on the ${name} topology`, function () {
      const topology = Topology.from(spec);
      const want = golden.cases[name]!;

      it('builds the same ring, point for point and owner for owner', function () {
        const ring = Ring.fromTopology(topology);
        const rec = golden.rings[name]!;
        expect(ring.points.length).to.equal(rec.length);
        expect(xxhash32(bytesOf(ring.points))).to.equal(rec.pointsDigest);
        expect(xxhash32(bytesOf(ring.owners))).to.equal(rec.ownersDigest);
      });

      it('gives every recorded key its recorded point and shard, uncached, cached (miss and hit) and through the ring', function () {
        const uncached = ShardRouter.fromTopology(topology, { cacheSize: 0 });
        const cached = ShardRouter.fromTopology(topology, { cacheSize: 64 });
        const ring = Ring.fromTopology(topology);
        const wrong: string[] = [];
        const check = (label: string, key: Parameters<ShardRouter['route']>[0], point: number, shard: string): void => {
          const got = [uncached.point(key), uncached.route(key), cached.route(key), cached.route(key), cached.route(key), ring.route(key)];
          if (typeof key === 'string') got.push(ring.routeString(key));
          const expected = [point, ...got.slice(1).map(() => shard)];
          if (JSON.stringify(got) !== JSON.stringify(expected)) wrong.push(`${label}: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
        };
        for (const [k, p, s] of want.strings) check(JSON.stringify(k), k, p, s);
        for (const [k, p, s] of want.integers) check(`${k}`, k, p, s);
        for (const [k, p, s] of want.bigints) check(`${k}n`, BigInt(k), p, s);
        for (const [k, p, s] of want.bytes) check(`0x${k}`, Buffer.from(k, 'hex'), p, s);
        expect(cached.stats().hits, 'the cached router answered repeats from its cache').to.be.greaterThan(0);
        expect(wrong).to.deep.equal([]);
      });
    });
  }
});
