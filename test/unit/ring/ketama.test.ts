import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ring } from '../../../src/ring/ring.js';
import { Topology } from '../../../src/topology/topology.js';
import { rng } from './helpers.js';

// hashring is CommonJS without types; only the members these tests touch are described.
interface HashRingNode {
  value: number;
  server: string;
}
interface HashRingInstance {
  ring: HashRingNode[];
  get(key: string): string;
  find(point: number): number;
  range(key: string, size: number): string[];
}
type HashRingCtor = new (servers: Record<string, number>, algorithm?: string, options?: Record<string, unknown>) => HashRingInstance;
const HashRing = createRequire(import.meta.url)('hashring') as HashRingCtor;

/** Servers in topology file order; hashring gets them as an object literal, which JS may reorder. */
type Servers = ReadonlyArray<readonly [string, number]>;

function reference(servers: Servers, options?: Record<string, unknown>): HashRingInstance {
  return new HashRing(Object.fromEntries(servers), 'md5', options);
}

function ketamaTopology(servers: Servers, vnodes = 40, draining: string[] = []): Topology {
  const shards = servers.map(([id, weight]) => ({ id, weight }));
  for (const id of draining) shards.push({ id, weight: 1, draining: true } as never);
  return Topology.from({ hash: 'ketama', vnodes, shards });
}

/** Keys of many shapes: decimal, ASCII words, long strings, non-ASCII. */
function keys(count: number, seed: number): string[] {
  const next = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    switch (i % 5) {
      case 0:
        out.push(String(i));
        break;
      case 1:
        out.push(`user:${next().toString(36)}`);
        break;
      case 2:
        out.push(`${next().toString(16)}-${next().toString(16)}-${next().toString(16)}-${next().toString(16)}`.repeat(1 + (i % 3)));
        break;
      case 3:
        out.push(`clé-${next() % 10000}-日本-${i}`);
        break;
      default:
        out.push(String.fromCharCode(...Array.from({ length: 1 + (next() % 40) }, () => 32 + (next() % 95))));
    }
  }
  return out;
}

/** Mismatches between our ring and hashring, key by key. */
function mismatches(ring: Ring, reference: HashRingInstance, keyList: readonly string[]): string[] {
  const out: string[] = [];
  for (const key of keyList) {
    const ours = ring.routeString(key);
    const theirs = reference.get(key);
    if (ours !== theirs) out.push(`${JSON.stringify(key)}: ${ours} vs ${theirs}`);
  }
  return out;
}

const SERVER_SETS: Record<string, Servers> = {
  'three equal servers': [['a:11211', 1], ['b:11211', 1], ['c:11211', 1]],
  'seven host:port servers, unequal weights': [
    ['10.0.0.1:27017', 1],
    ['10.0.0.2:27017', 2],
    ['10.0.0.3:27018', 3],
    ['db-4.internal:27017', 1.5],
    ['db-5.internal:27019', 0.75],
    ['10.0.0.6:27017', 4],
    ['10.0.0.7:27017', 1],
  ],
  'ids that Object.keys reorders (array indices first)': [['zeta', 1], ['10', 2], ['2', 1], ['alpha:1', 3], ['007', 1], ['0', 0.5]],
  // Summed in file order the weights give 0.6000000000000001, in Object.keys order 0.6: shard "0"
  // gets 79 or 80 digests. hashring sums in Object.keys order.
  'weights whose float64 sum depends on the order': [['x', 0.1], ['y', 0.1], ['1', 0.1], ['0', 0.3]],
  'fractional weights (float64 arithmetic)': [['s1', 0.1], ['s2', 0.7], ['s3', 1.3], ['s4', 2.9], ['s5', 0.33]],
  'a single server': [['only', 1]],
};

describe('Ring (ketama)', () => {
  context('when compared with the hashring package key by key', () => {
    for (const [label, servers] of Object.entries(SERVER_SETS)) {
      it(`routes 100k keys as hashring does: ${label}`, () => {
        const ring = Ring.fromTopology(ketamaTopology(servers));
        const bad = mismatches(ring, reference(servers), keys(100_000, label.length));
        expect(bad.length, bad.slice(0, 5).join('; ')).to.equal(0);
      });
    }

    it('builds the same continuum as hashring, point for point', () => {
      for (const servers of Object.values(SERVER_SETS)) {
        const ring = Ring.fromTopology(ketamaTopology(servers));
        const continuum = reference(servers).ring;
        const firstOfEach = continuum.filter((node, i) => i === 0 || node.value !== continuum[i - 1]!.value);
        expect([...ring.points]).to.deep.equal(firstOfEach.map((n) => n.value));
        expect([...ring.owners].map((o) => ring.shardIds[o])).to.deep.equal(firstOfEach.map((n) => n.server));
      }
    });

    it('maps topology vnodes to hashring "vnode count"', () => {
      const servers = SERVER_SETS['seven host:port servers, unequal weights']!;
      for (const vnodes of [1, 10, 100, 160]) {
        const ring = Ring.fromTopology(ketamaTopology(servers, vnodes));
        const ref = reference(servers, { 'vnode count': vnodes });
        expect(ring.points.length).to.equal(new Set(ref.ring.map((n) => n.value)).size);
        const bad = mismatches(ring, ref, keys(5_000, vnodes));
        expect(bad.length, bad.slice(0, 5).join('; ')).to.equal(0);
      }
    });

    it('leaves draining shards out, as a hashring without them', () => {
      const servers: Servers = [['a:1', 1], ['b:1', 2], ['c:1', 1]];
      const ring = Ring.fromTopology(ketamaTopology(servers, 40, ['gone:1']));
      const bad = mismatches(ring, reference(servers), keys(20_000, 3));
      expect(bad.length, bad.slice(0, 5).join('; ')).to.equal(0);
    });

    it('orders servers as hashring does for preference lists', () => {
      const servers = SERVER_SETS['seven host:port servers, unequal weights']!;
      const ring = Ring.fromTopology(ketamaTopology(servers));
      const ref = reference(servers);
      for (const key of keys(5_000, 11)) expect(ring.preferenceList(key, 3), key).to.deep.equal(ref.range(key, 3));
    });
  });

  context('when two servers claim the same point (ties)', () => {
    // 12 servers x 4096 digests x 4 points: md5 gives a few 32-bit collisions between servers.
    const servers: Servers = Array.from({ length: 12 }, (_, i) => [`10.0.0.${i}:11211`, 1 + (i % 3)] as const);
    const ring = Ring.fromTopology(ketamaTopology(servers, 4096));
    const ref = reference(servers, { 'vnode count': 4096 });
    const ties = ref.ring.filter((n, i) => i > 0 && n.value === ref.ring[i - 1]!.value && n.server !== ref.ring[i - 1]!.server);

    it('has ties to test with', () => {
      expect(ties.length).to.be.greaterThan(0);
    });

    it('gives the tied point to the server hashring picks (the earlier inserted)', () => {
      for (const tie of ties) {
        for (const p of [tie.value, tie.value - 1, tie.value + 1]) {
          expect(ring.ownerOfPoint(p), `point ${p}`).to.equal(ref.ring[ref.find(p)]!.server);
        }
      }
    });
  });

  context('when compared with libketama output (golden file)', () => {
    it('routes the keys "0".."99999" on weights 1..5 as libketama does', () => {
      const golden = readFileSync(new URL('../../fixtures/ketama/libketama-weights-1-5.txt', import.meta.url), 'utf8').replace(/\n/g, '');
      expect(golden.length).to.equal(100_000);
      const ring = Ring.fromTopology(ketamaTopology([1, 2, 3, 4, 5].map((w) => [`0.0.0.${w}`, w] as const)));
      let bad = 0;
      for (let i = 0; i < golden.length; i++) if (ring.route(i) !== `0.0.0.${golden[i]}`) bad++;
      expect(bad).to.equal(0);
    });
  });
});
