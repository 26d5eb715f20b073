/** The placement audit under a shard key other than `_id` (ADR 0008): points and owners come from the key's value. */
import { expect } from 'chai';
import { auditPlacement } from '../../../src/audit/placement-audit.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { Ring } from '../../../src/ring/ring.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { TopologySpec } from '../../../src/topology/types.js';

const R: TopologySpec = { name: 'orders', epoch: 1, hash: 'xxhash32', vnodes: 64, placement: 'hashed', shards: ['a', 'b', 'c'].map((id) => ({ id, weight: 1 })), shardKey: 'tenant' };
const ring = Ring.fromTopology(R);
const state: RoutingState = { phase: 'stable', epoch: 1, topology: R };

describe('auditPlacement with shard key tenant', () => {
  it("accepts documents on their tenant's owner with _h the tenant's point, tombstones included", async () => {
    const stores = new Map(['a', 'b', 'c'].map((id) => [id, new MemoryStore(id)]));
    for (let i = 0; i < 30; i++) {
      const tenant = `t${i % 7}`;
      await stores.get(ring.route(tenant))!.insert({ _id: `o${i}`, _h: ring.hash.point(tenant), _v: 1, tenant });
    }
    await stores.get(ring.route('t1'))!.insert({ _id: 'gone', _h: ring.hash.point('t1'), _v: 2, _ts: true });
    const report = await auditPlacement({ state, stores });
    expect(report.totals).to.include({ live: 30, tombstones: 1, misplaced: 0, badHash: 0, duplicates: 0 });
    expect(report.ok).to.equal(true);
  });

  it('flags a document whose _h is the point of its _id instead of its tenant, and one on the wrong shard', async () => {
    const stores = new Map(['a', 'b', 'c'].map((id) => [id, new MemoryStore(id)]));
    await stores.get(ring.route('acme'))!.insert({ _id: 'o1', _h: ring.hash.point('o1'), _v: 1, tenant: 'acme' });
    const wrong = ['a', 'b', 'c'].find((id) => id !== ring.route('zeta')) as string;
    await stores.get(wrong)!.insert({ _id: 'o2', _h: ring.hash.point('zeta'), _v: 1, tenant: 'zeta' });
    const report = await auditPlacement({ state, stores });
    expect(report.totals.badHash).to.equal(ring.hash.point('o1') === ring.hash.point('acme') ? 0 : 1);
    expect(report.totals.misplaced).to.equal(1);
    expect(report.samples.find((s) => s.kind === 'misplaced')).to.deep.include({ id: 'o2', expected: [ring.route('zeta')] });
    expect(report.ok).to.equal(false);
  });
});
