/**
 * Issue 9 saw once, not reproduced: "a bulkWrite insert of a free `_id` that had been deleted during
 * purge, re-inserted over its tombstone and deleted again failed". One window this reproduces
 * deterministically: the bulk's round trip meets the key's tombstone (a duplicate), and the migrator's
 * purge removes that tombstone before the bulk reads what it met. The bulk then found nothing where
 * it had met a duplicate, and reported the insert of a free `_id` as a duplicate key.
 */
import { expect } from 'chai';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { committed, SpyPool, stable, topology } from './support.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);

describe('ShardedCollection#bulkWrite racing a purge', () => {
  const key = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => r1.route(k) !== r2.route(k)) as string;
  const owner = r2.route(key);
  const h = r2.point(key);

  async function tombstoned(): Promise<{ pool: SpyPool; settling: ShardedCollection; settled: ShardedCollection }> {
    const pool = new SpyPool(['a', 'b', 'c', 'd']);
    const settling = new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(committed(R1, R2, 3)), pool });
    // Deleted while the committed migration settles: a tombstone at the new owner; re-inserted over it; deleted again.
    await settling.insertOne({ _id: key, n: 1 });
    expect((await settling.deleteOne({ _id: key })).deletedCount).to.equal(1);
    await settling.insertOne({ _id: key, n: 2 });
    expect((await settling.deleteOne({ _id: key })).deletedCount).to.equal(1);
    expect((await pool.raw(owner).get(key))?._ts, 'a tombstone at the new owner').to.equal(true);
    const settled = new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(stable(R2, 4)), pool });
    return { pool, settling, settled };
  }

  it('inserts the free _id when the purge removes its tombstone between the round trip and the triage read', async () => {
    const { pool, settled } = await tombstoned();
    let purged = false;
    pool.before = async (shardId, op) => {
      // The round trip met the tombstone; the purge lands before the bulk reads what it met.
      if (shardId !== owner || op !== 'find' || purged) return;
      purged = true;
      expect(await pool.raw(owner).deleteRange({ start: h - 1, end: h }, { _ts: true }, 10)).to.equal(1);
    };
    const r = await settled.bulkWrite([{ insertOne: { document: { _id: key, n: 3 } } }]);
    expect(purged, 'the purge ran in the window').to.equal(true);
    expect(r.errors.map((e) => e.error.message)).to.deep.equal([]);
    expect(r).to.include({ insertedCount: 1 });
    expect(await settled.findOne({ _id: key })).to.deep.equal({ _id: key, n: 3 });
  });

  it('inserts over the tombstone when no purge interferes, in the settling state and after it', async () => {
    for (const pick of ['settling', 'settled'] as const) {
      const colls = await tombstoned();
      const r = await colls[pick].bulkWrite([{ insertOne: { document: { _id: key, n: 4 } } }]);
      expect(r.errors.map((e) => e.error.message), pick).to.deep.equal([]);
      expect(await colls[pick].findOne({ _id: key }), pick).to.deep.equal({ _id: key, n: 4 });
    }
  });
});
