/**
 * Where `ShardedCollection` answered differently from the driver on one collection (issue 9, part 0).
 * Each test names the difference it catches and fails on the code before its fix.
 */
import { expect } from 'chai';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { copyForTarget } from '../../../src/collection/documents.js';
import { migrating, SpyPool, stable, topology } from './support.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
const EPOCH = 2;
const r1 = ShardRouter.fromTopology(R1);
const r2 = ShardRouter.fromTopology(R2);
const IDS = Array.from({ length: 400 }, (_, i) => i);

async function seededMigrating() {
  const pool = new SpyPool(['a', 'b', 'c', 'd']);
  await new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(stable(R1)), pool }).insertMany(IDS.map((i) => ({ _id: i, n: i })));
  const coll = new ShardedCollection({ name: 'p', routing: new StaticRoutingSource(migrating(R1, R2, EPOCH)), pool });
  return { pool, coll };
}

describe('ShardedCollection answers as the driver does', () => {
  describe('#countDocuments while a range is copied', () => {
    const leaving = IDS.filter((i) => r1.route(i) === 'a' && r2.route(i) === 'd');

    it('counts 400 of 400 when a fence batch lands between two queries at the source (issue 9: 395, 399, 401)', async () => {
      expect(leaving.length).to.be.greaterThan(5);
      const { pool, coll } = await seededMigrating();
      let reads = 0;
      let fenced = false;
      pool.before = async (shardId, op) => {
        if (shardId !== 'a' || (op !== 'count' && op !== 'find')) return;
        reads++;
        if (reads !== 2 || fenced) return;
        // Let the first query finish, then fence a batch, as the copier does, before the second one runs.
        await yieldToIo();
        fenced = true;
        await pool.raw('a').fence(leaving.map((id) => ({ id, h: r2.point(id) })), EPOCH);
      };
      expect(await coll.countDocuments({})).to.equal(400);
      expect(await coll.countDocuments({ n: { $gte: 200 } })).to.equal(200);
    });

    it('counts each document once when a batch is fenced and copied before the new owner is asked', async () => {
      const { pool, coll } = await seededMigrating();
      let copied = false;
      pool.before = async (shardId, op) => {
        if (shardId !== 'd' || copied || (op !== 'count' && op !== 'find')) return;
        copied = true;
        const docs = await pool.raw('a').fence(leaving.map((id) => ({ id, h: r2.point(id) })), EPOCH);
        await pool.raw('d').insertIfAbsent(docs.map(copyForTarget));
      };
      expect(await coll.countDocuments({})).to.equal(400);
      pool.before = undefined;
      expect(await coll.countDocuments({})).to.equal(400);
      expect(await coll.countDocuments({ n: { $lt: 100 } })).to.equal(100);
    });
  });
});
