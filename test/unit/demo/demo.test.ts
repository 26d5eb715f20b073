import { expect } from 'chai';
import { auditPlacement } from '../../../src/audit/placement-audit.js';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { runDemo, type DemoEvent } from '../../../src/demo/demo.js';
import { checkInvariants, type InvariantResult } from '../../../src/demo/invariants.js';
import { DemoWriter, type DemoDoc } from '../../../src/demo/writers.js';
import { ErrorCode, hasErrorCode } from '../../../src/errors.js';
import type { MigrationReport } from '../../../src/rebalance/migrator.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { emptyCounters } from '../../../src/rebalance/journal.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { Topology } from '../../../src/topology/topology.js';

const SMALL = { docs: 300, shards: 3, writers: 2, leaseMs: 60, opTimeoutMs: 20, batchSize: 25 } as const;

describe('demo', function () {
  this.timeout(90_000);

  describe('#runDemo', () => {
    context('when run with small numbers on embedded shards', () => {
      it('rebalances onto the added shard under writers and every invariant holds', async () => {
        const events: DemoEvent[] = [];
        const report = await runDemo({ ...SMALL, onEvent: (e) => events.push(e) });

        expect(report.invariants.filter((i) => !i.ok), JSON.stringify(report.invariants)).to.deep.equal([]);
        expect(report.ok).to.equal(true);
        expect(report.invariants).to.have.length(8);
        expect(report.backend).to.equal('memory');
        // The new shard starts empty and ends with documents; adding a shard to a hashed ring moves the minimum.
        expect(report.load.perShard['s4']).to.equal(0);
        expect(report.final.perShard['s4']).to.be.greaterThan(0);
        expect(report.plan.movedFraction).to.equal(report.plan.minimalFraction);
        expect(report.plan.pairs.every((p) => p.to === 's4')).to.equal(true);
        expect(report.plan.docsToMove).to.equal(report.plan.pairs.reduce((s, p) => s + p.docs, 0));
        expect(report.migration.outcome).to.equal('completed');
        expect(report.migration.epoch).to.equal(4);
        expect(report.migration.readsPerMoved).to.be.at.most(1.05);
        const w = report.writes;
        expect(w.inserts + w.updates + w.deletes).to.be.greaterThan(0);
        // Every live document is one the loader or a writer put there and did not delete.
        expect(report.final.docs).to.equal(SMALL.docs + w.inserts - w.deletes);

        const stages = events.filter((e) => e.type === 'stage').map((e) => (e.type === 'stage' ? e.stage : ''));
        expect(stages).to.deep.equal(['setup', 'load', 'plan', 'migrate', 'verify']);
        const migration = events.filter((e) => e.type === 'migration');
        expect(migration.at(-1)?.type === 'migration' && migration.at(-1)?.event.type).to.equal('done');
      });

      it('is repeatable with the same seed', async () => {
        const a = await runDemo({ ...SMALL, writers: 0 });
        const b = await runDemo({ ...SMALL, writers: 0 });
        expect([a.ok, b.ok]).to.deep.equal([true, true]);
        expect(a.final.docs).to.equal(SMALL.docs);
        expect(a.final.perShard).to.deep.equal(b.final.perShard);
        expect(a.plan).to.deep.equal(b.plan);
      });
    });

    context('when the options are out of range', () => {
      for (const bad of [{ docs: 0 }, { shards: 0 }, { writers: -1 }, { docs: 1.5 }]) {
        it(`rejects ${JSON.stringify(bad)} before doing anything`, async () => {
          const error = await runDemo({ ...SMALL, ...bad }).then(
            () => null,
            (e: unknown) => e,
          );
          expect(hasErrorCode(error, ErrorCode.invalidArgument)).to.equal(true);
        });
      }
    });

    context('when interrupted', () => {
      it('stops the migration with shardkit.interrupted', async () => {
        const controller = new AbortController();
        controller.abort();
        const error = await runDemo({ ...SMALL, signal: controller.signal }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(hasErrorCode(error, ErrorCode.interrupted)).to.equal(true);
      });
    });
  });

  describe('#checkInvariants', () => {
    const topology = Topology.from({ name: 'demo', shards: [{ id: 's1', weight: 1 }, { id: 's2', weight: 1 }] });
    const state: RoutingState = { phase: 'stable', epoch: 3, topology: topology.toJSON() };
    const report: MigrationReport = { migrationId: 'm', outcome: 'completed', epoch: 3, moves: 1, counters: emptyCounters(), readsPerMoved: 1 };
    let stores: Map<string, MemoryStore>;
    let writer: DemoWriter;

    beforeEach(async () => {
      stores = new Map([['s1', new MemoryStore('s1')], ['s2', new MemoryStore('s2')]]);
      const coll = new ShardedCollection<DemoDoc>({
        name: 'demo',
        pool: { store: (id: string) => stores.get(id)! },
        routing: new StaticRoutingSource(state),
      });
      writer = new DemoWriter(0, coll, 1);
      for (let i = 0; i < 40; i++) {
        await coll.insertOne({ _id: `k${i}`, n: i, owner: 0, note: '' });
        writer.adopt(`k${i}`, i);
      }
    });

    async function check(): Promise<Map<string, InvariantResult>> {
      const audit = await auditPlacement({ state, stores });
      const results = await checkInvariants({ state, toEpoch: 3, writers: [writer], stores, audit, report });
      return new Map(results.map((r) => [r.name, r]));
    }

    /** The store holding `id` now. */
    async function locate(id: string): Promise<MemoryStore> {
      for (const store of stores.values()) if ((await store.get(id)) !== null) return store;
      throw new Error(`${id} is nowhere`);
    }

    function failed(results: Map<string, InvariantResult>): string[] {
      return [...results.values()].filter((r) => !r.ok).map((r) => r.name);
    }

    it('passes on an untouched deployment', async () => {
      expect(failed(await check())).to.deep.equal([]);
    });

    it('reports a lost acknowledged write', async () => {
      const store = await locate('k3');
      await store.deleteOne({ _id: 'k3' });
      const results = await check();
      expect(failed(results)).to.deep.equal(['every acknowledged write is there, at its latest version']);
      expect(results.get('every acknowledged write is there, at its latest version')!.detail).to.contain('1 missing').and.contain('k3');
    });

    it('reports an older version', async () => {
      const store = await locate('k4');
      await store.updateOne({ _id: 'k4' }, { $set: { n: -1 } });
      const results = await check();
      expect(failed(results)).to.deep.equal(['every acknowledged write is there, at its latest version']);
      expect(results.get('every acknowledged write is there, at its latest version')!.detail).to.contain('1 at an older version');
    });

    it('reports a deleted document that is back', async () => {
      writer.expected.set('k5', null);
      expect(failed(await check())).to.deep.equal(['no deleted document came back']);
    });

    it('accepts either outcome of an unacknowledged write', async () => {
      writer.uncertain.set('k6', [6, null]);
      writer.uncertain.set('k7', [null, -5]);
      const store = await locate('k7');
      await store.updateOne({ _id: 'k7' }, { $set: { n: -5 } });
      expect(failed(await check())).to.deep.equal([]);
    });

    it('reports an orphan and a duplicate on the wrong shard', async () => {
      const owner = await locate('k8');
      const other = [...stores.values()].find((s) => s !== owner)!;
      const doc = (await owner.get('k8'))!;
      await other.insert(doc);
      await owner.insert({ ...doc, _id: 'stranger' });
      const results = await check();
      expect(failed(results)).to.include.members(['no duplicates', 'no orphans', 'every document on the shard its key routes to']);
    });

    it('reports markers left behind', async () => {
      const owner = await locate('k9');
      const doc = (await owner.get('k9'))!;
      await owner.fence([{ id: 'k9', h: doc._h }], 2);
      expect(failed(await check())).to.include('no fence, placeholder or tombstone left after cleanup');
    });

    it('reports an unfinished migration', async () => {
      const audit = await auditPlacement({ state, stores });
      const results = await checkInvariants({ state, toEpoch: 5, writers: [writer], stores, audit, report });
      expect(results.filter((r) => !r.ok).map((r) => r.name)).to.deep.equal(['migration completed and the new topology is live']);
    });
  });
});
