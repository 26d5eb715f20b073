/**
 * A router still on `migrating(e+1)` (within its lease) after the migration committed: the new owner
 * may lack a key because a router on `stable(e+2)` deleted it there (a stable-phase delete leaves no
 * tombstone), while the old owner's fenced copy waits for cleanup. That copy is stale, and neither a
 * read nor a write may use it (model test seed 6619).
 */
import { expect } from 'chai';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { copyForTarget } from '../../../src/collection/documents.js';
import { ErrorCode } from '../../../src/errors.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import type { MemoryStore } from '../../../src/stores/memory-store.js';
import { hooked } from '../../support/hooked-store.js';
import { rejection } from '../../support/rejection.js';
import { committed, LaggingSource, migrating, SpyPool, stable, topology } from './support.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
const MIGRATING = 2;
const STABLE = 3;
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);

const moving: number[] = [];
for (let i = 0; moving.length < 4; i++) if (r1.route(i) !== r2.route(i)) moving.push(i);

/**
 * Keys inserted on stable(R1), fenced and copied as the migrator does, committed (stable(R2) at epoch
 * 3), then deleted by a router on the stable state. Returns a collection that still holds the
 * migrating state until it refreshes (`stuck`: every refresh still answers migrating).
 */
async function committedThenDeleted(ids: readonly number[], stuck = false) {
  const pool = new SpyPool(['a', 'b', 'c', 'd']);
  const before = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(stable(R1)), pool });
  await before.insertMany(ids.map((i) => ({ _id: i, n: i })));
  const oldOf = (id: number): MemoryStore => pool.raw(r1.route(id));
  const newOf = (id: number): MemoryStore => pool.raw(r2.route(id));
  for (const id of ids) {
    const [fenced] = await oldOf(id).fence([{ id, h: r2.point(id) }], MIGRATING);
    if (fenced !== undefined) await newOf(id).insertIfAbsent([copyForTarget(fenced)]);
  }
  const committed = stable(R2, STABLE);
  const current = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(committed), pool });
  for (const id of ids) expect((await current.deleteOne({ _id: id })).deletedCount).to.equal(1);
  const routing = new LaggingSource(migrating(R1, R2, MIGRATING), stuck ? migrating(R1, R2, MIGRATING) : committed, stuck);
  const lagging = new ShardedCollection({ name: 'm', routing, pool });
  return { pool, current, lagging, routing, oldOf, newOf };
}

describe('ShardedCollection on a migrating state after the migration committed', () => {
  it('has the deleted keys only as fenced copies at their old owners in the fixture', async () => {
    const { oldOf, newOf } = await committedThenDeleted(moving);
    for (const id of moving) {
      expect(await newOf(id).get(id)).to.equal(null);
      expect(await oldOf(id).get(id)).to.include({ _moved: MIGRATING, n: id });
    }
  });

  describe('#findOne', () => {
    it('answers not found instead of the old owner fenced copy, after a refresh', async () => {
      const [k] = moving as [number];
      const { lagging, routing } = await committedThenDeleted([k]);
      expect(await lagging.findOne({ _id: k })).to.equal(null);
      expect(await lagging.countDocuments({ _id: k })).to.equal(0);
      expect(routing.refreshes).to.be.greaterThan(0);
    });

    it('still reads the fenced copy when the refresh confirms the migration is running', async () => {
      const [k] = moving as [number];
      const { lagging, routing } = await committedThenDeleted([k], true);
      // The same raw layout while still migrating is the window between a fence and its copy.
      expect(await lagging.findOne({ _id: k })).to.deep.equal({ _id: k, n: k });
      expect(routing.refreshes).to.equal(1);
    });
  });

  describe('#find and #countDocuments (scatter-gather)', () => {
    it('do not return the fenced copies of deleted documents', async () => {
      const { lagging, routing } = await committedThenDeleted(moving);
      expect(await lagging.find({}).toArray()).to.deep.equal([]);
      expect(await lagging.countDocuments({})).to.equal(0);
      expect(routing.refreshes).to.be.greaterThan(0);
    });
  });

  describe('writes', () => {
    it('updateOne matches nothing and does not bring the document back', async () => {
      const [k] = moving as [number];
      const { lagging, current, newOf } = await committedThenDeleted([k]);
      const r = await lagging.updateOne({ _id: k }, { $set: { n: -1 } });
      expect(r.matchedCount).to.equal(0);
      expect(await newOf(k).get(k)).to.equal(null);
      expect(await current.findOne({ _id: k })).to.equal(null);
    });

    it('replaceOne and deleteOne match nothing and write nothing at the new owner', async () => {
      const [k1, k2] = moving as [number, number];
      const { lagging, current, newOf } = await committedThenDeleted([k1, k2]);
      expect((await lagging.replaceOne({ _id: k1 }, { n: -1 })).matchedCount).to.equal(0);
      expect((await lagging.deleteOne({ _id: k2 })).deletedCount).to.equal(0);
      expect(await newOf(k1).get(k1)).to.equal(null);
      expect(await newOf(k2).get(k2)).to.equal(null);
      expect(await current.find({}).toArray()).to.deep.equal([]);
    });

    it('insertOne inserts the new document instead of failing as a duplicate of the deleted one', async () => {
      const [k] = moving as [number];
      const { lagging, current } = await committedThenDeleted([k]);
      await lagging.insertOne({ _id: k, n: 7 });
      expect(await current.findOne({ _id: k })).to.deep.equal({ _id: k, n: 7 });
    });

    it('bulkWrite updates of moving keys do not bring documents back', async () => {
      const { lagging, current } = await committedThenDeleted(moving);
      const r = await lagging.bulkWrite(moving.map((id) => ({ updateOne: { filter: { _id: id }, update: { $set: { n: 0 } } } })));
      expect(r.errors).to.deep.equal([]);
      expect(r.matchedCount).to.equal(0);
      expect(await current.find({}).toArray()).to.deep.equal([]);
    });

    it('copies the fenced copy and writes when the refresh confirms the migration is running', async () => {
      const [k] = moving as [number];
      const { lagging, newOf } = await committedThenDeleted([k], true);
      expect((await lagging.updateOne({ _id: k }, { $set: { n: -1 } })).matchedCount).to.equal(1);
      expect(await newOf(k).get(k)).to.include({ n: -1 });
    });

    it('gives up with shardkit.router.redirectLimit when it may not redirect at all', async () => {
      const [k] = moving as [number];
      const { pool } = await committedThenDeleted([k]);
      const routing = new LaggingSource(migrating(R1, R2, MIGRATING), stable(R2, STABLE));
      const strict = new ShardedCollection({ name: 'm', routing, pool, maxRedirects: 0 });
      expect((await rejection(strict.findOne({ _id: k }))).code).to.equal(ErrorCode.redirectLimit);
    });
  });
});

describe('ShardedCollection: a copy in flight across the commit', () => {
  /**
   * The window ADR 0003 left open: a router on `migrating(e+1)` fences a key, confirms by refresh that
   * the migration still runs, and sends the copy to the new owner; before the copy lands the migrator
   * commits and a router on the stable state deletes the key at the new owner. The late copy must not
   * bring the deleted document back.
   */
  it('a delete on the committed state is not undone by a copy that lands after it', async () => {
    const [k] = moving as [number];
    const pool = new SpyPool(['a', 'b', 'c', 'd']);
    const before = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(stable(R1)), pool });
    await before.insertOne({ _id: k, n: 1 });
    const newOwner = r2.route(k);
    // The lagging router's store calls, with its copy to the new owner held at a gate.
    let arrived!: () => void;
    const atGate = new Promise<void>((r) => (arrived = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gated = {
      store(shardId: string) {
        const store = pool.store(shardId);
        if (shardId !== newOwner) return store;
        return hooked(store, {
          async before(_shardId, op) {
            if (op !== 'insertIfAbsent') return;
            arrived();
            await gate;
          },
        });
      },
    };
    const lagging = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(migrating(R1, R2, MIGRATING)), pool: gated });
    // The copier has fenced the key (its copy in flight), so the update cannot write it at the old
    // owner (ADR 0002, decision 8): it copies the fenced body to the new owner itself.
    await pool.raw(r1.route(k)).fence([{ id: k, h: r2.point(k) }], MIGRATING);
    const update = lagging.updateOne({ _id: k }, { $set: { n: 2 } });
    await atGate;
    // Meanwhile: the migrator copies the fenced key and commits; a router on the committed state deletes it.
    const [fenced] = await pool.raw(r1.route(k)).fence([{ id: k, h: r2.point(k) }], MIGRATING);
    await pool.raw(newOwner).insertIfAbsent([copyForTarget(fenced!)]);
    const current = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(committed(R1, R2, STABLE)), pool });
    expect((await current.deleteOne({ _id: k })).deletedCount).to.equal(1);
    release();
    const result = await update;
    // Linearizable either way: the update before the delete (then deleted) or after it (matching nothing).
    expect(await current.findOne({ _id: k }), 'the deleted document came back').to.equal(null);
    expect(result.matchedCount).to.be.oneOf([0, 1]);
  });
});
