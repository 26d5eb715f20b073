import { expect } from 'chai';
import fc from 'fast-check';
import { auditPlacement } from '../../../src/audit/placement-audit.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { Ring } from '../../../src/ring/ring.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { StoredDocument } from '../../../src/stores/shard-store.js';
import type { TopologySpec } from '../../../src/topology/types.js';

function topology(epoch: number, ids: string[]): TopologySpec {
  return { name: 'users', epoch, hash: 'xxhash32', vnodes: 64, placement: 'hashed', shards: ids.map((id) => ({ id, weight: 1 })) };
}

const R1 = topology(1, ['a', 'b', 'c']);
const R2 = topology(2, ['a', 'b', 'c', 'd']);
const ring1 = Ring.fromTopology(R1);
const ring2 = Ring.fromTopology(R2);

function stores(ids: string[]): Map<string, MemoryStore> {
  return new Map(ids.map((id) => [id, new MemoryStore(id)]));
}

function doc(id: string, extra: Partial<StoredDocument> = {}): StoredDocument {
  return { _id: id, _h: ring1.hash.point(id), _v: 1, name: `n-${id}`, ...extra };
}

/** Ids whose owner changes from R1 to R2 and ids whose owner does not. */
function partition(n: number): { moving: string[]; staying: string[] } {
  const moving: string[] = [];
  const staying: string[] = [];
  for (let i = 0; moving.length < n || staying.length < n; i++) {
    const id = `user-${i}`;
    (ring1.route(id) === ring2.route(id) ? staying : moving).push(id);
  }
  return { moving: moving.slice(0, n), staying: staying.slice(0, n) };
}

/**
 * Stores holding, for each entry, a live copy of key `idOf(n)` on each shard of `where` (once per
 * shard), with the misplaced copies (on no shard of `owners(id)`) and the duplicated keys counted.
 */
async function scatter(
  shardIds: string[],
  entries: ReadonlyArray<{ n: number; where: string[] }>,
  idOf: (n: number) => string,
  owners: (id: string) => string[],
): Promise<{ s: Map<string, MemoryStore>; placed: Map<string, Set<string>>; misplaced: number; duplicates: number }> {
  const s = stores(shardIds);
  const placed = new Map<string, Set<string>>();
  for (const { n, where } of entries) {
    const id = idOf(n);
    const set = placed.get(id) ?? new Set<string>();
    for (const shard of where) {
      if (set.has(shard)) continue;
      set.add(shard);
      await s.get(shard)!.insert(doc(id));
    }
    placed.set(id, set);
  }
  let misplaced = 0;
  let duplicates = 0;
  for (const [id, set] of placed) {
    for (const shard of set) if (!owners(id).includes(shard)) misplaced += 1;
    if (set.size > 1) duplicates += 1;
  }
  return { s, placed, misplaced, duplicates };
}

const stable: RoutingState = { phase: 'stable', epoch: 1, topology: R1 };
const migrating: RoutingState = { phase: 'migrating', epoch: 2, from: R1, topology: R2, migrationId: 'm1' };

describe('auditPlacement', function () {
  context('when every document is on its owner', function () {
    it('reports ok with per-shard counts', async function () {
      const s = stores(['a', 'b', 'c']);
      const ids = Array.from({ length: 200 }, (_, i) => `user-${i}`);
      for (const id of ids) await s.get(ring1.route(id))!.insert(doc(id));
      const report = await auditPlacement({ state: stable, stores: s, batchSize: 7 });
      expect(report.ok).to.equal(true);
      expect(report.consistent).to.equal(true);
      expect(report.totals.documents).to.equal(200);
      expect(report.totals.live).to.equal(200);
      for (const id of ['a', 'b', 'c']) expect(report.shards[id]?.live).to.equal(await s.get(id)!.count({}));
      expect(report.samples).to.deep.equal([]);
    });
  });

  context('when a document sits on the wrong shard', function () {
    it('counts it as misplaced and names its owner', async function () {
      const s = stores(['a', 'b', 'c']);
      const owner = ring1.route('user-1');
      const wrong = ['a', 'b', 'c'].find((x) => x !== owner)!;
      await s.get(wrong)!.insert(doc('user-1'));
      const report = await auditPlacement({ state: stable, stores: s });
      expect(report.ok).to.equal(false);
      expect(report.totals.misplaced).to.equal(1);
      expect(report.shards[wrong]?.misplaced).to.equal(1);
      expect(report.samples).to.deep.equal([{ kind: 'misplaced', id: 'user-1', h: doc('user-1')._h, shards: [wrong], expected: [owner] }]);
    });
  });

  context('when one _id is live on two shards', function () {
    it('counts one duplicate', async function () {
      const s = stores(['a', 'b', 'c']);
      const owner = ring1.route('user-7');
      const other = ['a', 'b', 'c'].find((x) => x !== owner)!;
      await s.get(owner)!.insert(doc('user-7'));
      await s.get(other)!.insert(doc('user-7'));
      const report = await auditPlacement({ state: stable, stores: s, batchSize: 1 });
      expect(report.totals.duplicates).to.equal(1);
      expect(report.totals.misplaced).to.equal(1);
      const dup = report.samples.find((x) => x.kind === 'duplicate');
      expect(dup?.shards).to.have.members([owner, other]);
    });
  });

  context('when a stored _h is not the point of its _id', function () {
    it('counts it as badHash with the expected point', async function () {
      const s = stores(['a', 'b', 'c']);
      const good = doc('user-3');
      const wrongH = good._h === 0 ? 1 : good._h - 1;
      await s.get(ring1.route('user-3'))!.insert({ ...good, _h: wrongH });
      const report = await auditPlacement({ state: stable, stores: s });
      expect(report.ok).to.equal(false);
      expect(report.totals.badHash).to.equal(1);
      expect(report.samples[0]).to.deep.include({ kind: 'badHash', expected: good._h });
    });
  });

  context('when markers remain in a stable state', function () {
    it('counts them, and flags only fences on the key owner', async function () {
      const s = stores(['a', 'b', 'c']);
      const { staying } = partition(4);
      const [x, y, z, w] = staying as [string, string, string, string];
      const notOwner = (id: string): string => ['a', 'b', 'c'].find((sh) => sh !== ring1.route(id))!;
      await s.get(notOwner(x))!.insert(doc(x, { _moved: 2 }));
      await s.get(notOwner(y))!.insert(doc(y, { _moved: 2, _ph: true, _v: 0 }));
      await s.get(ring1.route(z))!.insert(doc(z, { _ts: true }));
      let report = await auditPlacement({ state: stable, stores: s });
      expect(report.totals).to.include({ fenced: 1, placeholders: 1, tombstones: 1, live: 0, fencedAtOwner: 0, misplaced: 0 });
      expect(report.ok).to.equal(true);
      await s.get(ring1.route(w))!.insert(doc(w, { _moved: 2 }));
      report = await auditPlacement({ state: stable, stores: s });
      expect(report.totals.fencedAtOwner).to.equal(1);
      expect(report.ok).to.equal(false);
    });
  });

  context('when a migration is running', function () {
    it('accepts live keys at either owner, and a fenced source next to its copy', async function () {
      const s = stores(['a', 'b', 'c', 'd']);
      const { moving, staying } = partition(3);
      const [m1, m2, m3] = moving as [string, string, string];
      await s.get(ring1.route(m1))!.insert(doc(m1)); // not copied yet
      await s.get(ring2.route(m2))!.insert(doc(m2)); // written at the new owner
      await s.get(ring1.route(m3))!.insert(doc(m3, { _moved: 2 })); // copied
      await s.get(ring2.route(m3))!.insert(doc(m3));
      for (const id of staying) await s.get(ring1.route(id))!.insert(doc(id));
      const report = await auditPlacement({ state: migrating, stores: s, batchSize: 2 });
      expect(report.consistent).to.equal(false);
      expect(report.ok).to.equal(true);
      expect(report.totals).to.include({ live: 6, fenced: 1, duplicates: 0, misplaced: 0 });
    });

    it('still reports a key live at both owners as a duplicate', async function () {
      const s = stores(['a', 'b', 'c', 'd']);
      const [m] = partition(1).moving as [string];
      await s.get(ring1.route(m))!.insert(doc(m));
      await s.get(ring2.route(m))!.insert(doc(m));
      const report = await auditPlacement({ state: migrating, stores: s });
      expect(report.totals.duplicates).to.equal(1);
      expect(report.ok).to.equal(false);
    });
  });

  context('when the options are invalid', function () {
    it('throws for a bad batch size or a missing store', async function () {
      const s = stores(['a', 'b']);
      for (const options of [{ batchSize: 0 }, { sampleLimit: -1 }, {}]) {
        const error = await auditPlacement({ state: stable, stores: s, ...options }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, JSON.stringify(options)).to.be.instanceOf(Error);
      }
    });
  });

  context('when a migration runs and documents are scattered at random', function () {
    it('finds every _id live on two shards, owners or not, and every misplaced copy', async function () {
      this.timeout(60_000);
      const shardIds = ['a', 'b', 'c', 'd'];
      const { moving, staying } = partition(20);
      const keys = [...moving, ...staying];
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ n: fc.integer({ min: 0, max: keys.length - 1 }), where: fc.subarray(shardIds, { minLength: 1 }) }), { maxLength: 40 }),
          fc.integer({ min: 1, max: 9 }),
          async (entries, batchSize) => {
            const { s, placed, misplaced, duplicates } = await scatter(shardIds, entries, (n) => keys[n]!, (id) => [ring1.route(id), ring2.route(id)]);
            const report = await auditPlacement({ state: migrating, stores: s, batchSize, sampleLimit: 1000 });
            expect(report.totals.misplaced).to.equal(misplaced);
            expect(report.totals.duplicates).to.equal(duplicates);
            const sampled = report.samples.filter((x) => x.kind === 'duplicate').map((x) => [x.id, [...x.shards].sort()]);
            const expected = [...placed].filter(([, set]) => set.size > 1).map(([id, set]) => [id, [...set].sort()]);
            expect(sampled).to.have.deep.members(expected);
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  context('when a shard cannot be read', function () {
    it('fails with that shard\'s error, and the other shards stop reading', async function () {
      const s = stores(['a', 'b', 'c']);
      for (let i = 0; i < 300; i++) await s.get(ring1.route(`user-${i}`))!.insert(doc(`user-${i}`));
      const batches: Record<string, number> = { a: 0, b: 0, c: 0 };
      const failing = new Error('shard b is down');
      const storeOf = (id: string): MemoryStore => {
        const store = s.get(id)!;
        return new Proxy(store, {
          get(target, prop, receiver) {
            if (prop !== 'findBatches') return Reflect.get(target, prop, receiver) as unknown;
            return (filter: never, options: never) => {
              const cursor = target.findBatches(filter, options);
              return {
                next: async () => {
                  batches[id] = (batches[id] ?? 0) + 1;
                  if (id === 'b' && batches[id] === 2) throw failing;
                  return cursor.next();
                },
                close: () => cursor.close(),
              };
            };
          },
        });
      };
      const error = await auditPlacement({ state: stable, stores: storeOf, batchSize: 5 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).to.equal(failing);
      // Let passes still running go on as far as they would.
      for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
      // About 100 entries per shard in batches of 5: the others stopped long before their twentieth.
      expect(batches['a']).to.be.below(6);
      expect(batches['c']).to.be.below(6);
    });
  });

  context('when documents are scattered at random', function () {
    it('agrees with a direct count at every batch size', async function () {
      this.timeout(60_000);
      const shardIds = ['a', 'b', 'c'];
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ n: fc.integer({ min: 0, max: 60 }), where: fc.subarray(shardIds, { minLength: 1 }) }), { maxLength: 40 }),
          fc.integer({ min: 1, max: 9 }),
          async (entries, batchSize) => {
            const { s, misplaced, duplicates } = await scatter(shardIds, entries, (n) => `k${n}`, (id) => [ring1.route(id)]);
            const report = await auditPlacement({ state: stable, stores: s, batchSize });
            expect(report.totals.misplaced).to.equal(misplaced);
            expect(report.totals.duplicates).to.equal(duplicates);
            expect(report.ok).to.equal(misplaced + duplicates === 0);
          },
        ),
        { numRuns: 60 },
      );
    });
  });
});
