/**
 * The data path on a settling stable state (the state a migration commits, until its cleanup is done):
 * deletes of keys that migration moved leave a tombstone at the owner, every other operation behaves as
 * on any stable state (ADR 0003).
 */
import { expect } from 'chai';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ErrorCode } from '../../../src/errors.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { hooked } from '../../support/hooked-store.js';
import { rejection } from '../../support/rejection.js';
import { committed, SpyPool, stable, topology } from './support.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);
const moved: number[] = [];
const stayed: number[] = [];
for (let i = 0; moved.length < 3 || stayed.length < 3; i++) (r1.route(i) !== r2.route(i) ? moved : stayed).push(i);

/** Keys inserted at their R2 owners, as after the copy, and a collection on the settling state. */
async function settlingWorld(ids: readonly number[]) {
  const pool = new SpyPool(['a', 'b', 'c', 'd']);
  const coll = new ShardedCollection({ name: 's', routing: new StaticRoutingSource(committed(R1, R2, 3)), pool });
  for (const id of ids) await pool.raw(r2.route(id)).insert({ _id: id, _h: r2.point(id), _v: 1, n: id });
  return { pool, coll, at: (id: number) => pool.raw(r2.route(id)).get(id) };
}

describe('ShardedCollection on a settling stable state', () => {
  describe('#deleteOne', () => {
    it('leaves a tombstone for a key the committed migration moved', async () => {
      const [k] = moved as [number];
      const { coll, at } = await settlingWorld([k]);
      expect((await coll.deleteOne({ _id: k })).deletedCount).to.equal(1);
      expect(await at(k)).to.deep.equal({ _id: k, _h: r2.point(k), _v: 2, _ts: true });
      expect(await coll.findOne({ _id: k })).to.equal(null);
      expect(await coll.countDocuments({})).to.equal(0);
      expect((await coll.deleteOne({ _id: k })).deletedCount, 'a second delete finds the tombstone').to.equal(0);
    });

    it('deletes a key that did not move, as on any stable state', async () => {
      const [k] = stayed as [number];
      const { coll, at } = await settlingWorld([k]);
      expect((await coll.deleteOne({ _id: k })).deletedCount).to.equal(1);
      expect(await at(k)).to.equal(null);
    });

    it('deletes nothing when the document is absent or does not match the filter', async () => {
      const [k1, k2] = moved as [number, number];
      const { coll, at } = await settlingWorld([k1]);
      expect((await coll.deleteOne({ _id: k1, n: -1 })).deletedCount).to.equal(0);
      expect(await at(k1)).to.include({ n: k1 });
      expect((await coll.deleteOne({ _id: k2 })).deletedCount).to.equal(0);
      expect(await at(k2)).to.equal(null);
    });

    it('answers "moved" for a key a newer migration fenced at its owner', async () => {
      const [k] = moved as [number];
      const { pool } = await settlingWorld([k]);
      await pool.raw(r2.route(k)).fence([{ id: k, h: r2.point(k) }], 9);
      const strict = new ShardedCollection({ name: 's', routing: new StaticRoutingSource(committed(R1, R2, 3)), pool, maxRedirects: 0 });
      expect((await rejection(strict.deleteOne({ _id: k }))).code).to.equal(ErrorCode.redirectLimit);
    });
  });

  describe('#deleteOne racing an update of the same key', () => {
    it('does not tombstone a version its filter did not match', async () => {
      const [k] = moved as [number];
      const { pool, coll, at } = await settlingWorld([k]);
      // The update lands between the delete's read and its tombstone.
      let raced = false;
      const racing = {
        store(shardId: string) {
          const store = pool.store(shardId);
          return hooked(store, {
            async before(_shardId, op) {
              if (op !== 'tombstone' || raced) return;
              raced = true;
              expect((await coll.updateOne({ _id: k }, { $set: { n: -1 } })).matchedCount).to.equal(1);
            },
          });
        },
      };
      const deleter = new ShardedCollection({ name: 's', routing: new StaticRoutingSource(committed(R1, R2, 3)), pool: racing });
      expect((await deleter.deleteOne({ _id: k, n: k })).deletedCount, 'the filter no longer matches').to.equal(0);
      expect(raced).to.equal(true);
      expect(await at(k)).to.include({ n: -1, _v: 2 });
      expect((await deleter.deleteOne({ _id: k, n: -1 })).deletedCount).to.equal(1);
      expect(await at(k)).to.include({ _ts: true, _v: 3 });
    });
  });

  describe('writes over the tombstone', () => {
    it('insertOne replaces it and updateOne does not match it', async () => {
      const [k1, k2] = moved as [number, number];
      const { coll, at } = await settlingWorld([k1, k2]);
      await coll.deleteOne({ _id: k1 });
      await coll.deleteOne({ _id: k2 });
      expect((await coll.updateOne({ _id: k2 }, { $set: { n: 0 } })).matchedCount).to.equal(0);
      await coll.insertOne({ _id: k1, n: 7 });
      expect(await coll.findOne({ _id: k1 })).to.deep.equal({ _id: k1, n: 7 });
      expect(await at(k1)).to.include({ _v: 3, n: 7 }).and.not.have.property('_ts');
    });
  });

  describe('#bulkWrite', () => {
    it('deletes moved keys by tombstone and the others in the per-shard round trip', async () => {
      const ids = [...moved, ...stayed];
      const { coll, pool, at } = await settlingWorld(ids);
      pool.resetCounts();
      const r = await coll.bulkWrite(ids.map((id) => ({ deleteOne: { filter: { _id: id } } })));
      expect(r.errors).to.deep.equal([]);
      expect(r.deletedCount).to.equal(ids.length);
      for (const id of moved) expect(await at(id), String(id)).to.include({ _ts: true });
      for (const id of stayed) expect(await at(id), String(id)).to.equal(null);
      const tombstoneCalls = [...pool.stores.keys()].reduce((n, s) => n + pool.count(s, 'tombstone'), 0);
      expect(tombstoneCalls).to.equal(moved.length);
    });
  });

  it('a state without settling deletes moved keys outright', async () => {
    const [k] = moved as [number];
    const pool = new SpyPool(['a', 'b', 'c', 'd']);
    await pool.raw(r2.route(k)).insert({ _id: k, _h: r2.point(k), _v: 1, n: k });
    const coll = new ShardedCollection({ name: 's', routing: new StaticRoutingSource(stable(R2, 4)), pool });
    expect((await coll.deleteOne({ _id: k })).deletedCount).to.equal(1);
    expect(await pool.raw(r2.route(k)).get(k)).to.equal(null);
  });
});
