import { expect } from 'chai';
import { Binary, Decimal128, Double, Int32, Long, MongoClient } from 'mongodb';
import type { Document } from 'mongodb';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import { Migrator } from '../../../src/rebalance/migrator.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MongoShardPool } from '../../../src/stores/shard-pool.js';
import { Topology } from '../../../src/topology/topology.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const { shards } = testServerUris();
const db = uniqueDbName('bsontypes');
const COLLECTION = 'typed';
const BASE_FIELDS: Record<string, string> = { d: 'double', i: 'int', l: 'long', dt: 'date', bin: 'binData' };
let FIELDS: Record<string, string> = BASE_FIELDS;

/** FerretDB 1.24 has no decimal128 (it drops the connection); MongoDB has. */
async function serverHasDecimal(uri: string): Promise<boolean> {
  const client = new MongoClient(uri);
  try {
    await client.db(db).collection<Document>('probe').insertOne({ x: Decimal128.fromString('1.5') });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * Issue 9: the migrator re-wrote moved documents from promoted JS values, so a double 8.0 arrived at
 * its new shard as an int32 8 (and a long as an int32). Fails on the old code: the `$type` counts of
 * `d` and `l` drop by the number of documents that moved.
 */
describe('a migration on MongoDB-wire servers keeps every BSON type', function () {
  this.timeout(120_000);
  const clients: MongoClient[] = [];

  after(async function () {
    for (const client of clients) {
      await client.db(db).dropDatabase().catch(() => undefined);
      await client.close();
    }
  });

  /** Every live document of every shard, unpromoted. */
  async function everyDoc(uris: readonly string[]): Promise<Document[]> {
    const out: Document[] = [];
    for (const uri of uris) {
      const client = new MongoClient(uri);
      clients.push(client);
      out.push(...(await client.db(db).collection(COLLECTION).find({ _moved: { $exists: false } }, { promoteValues: false }).toArray()));
    }
    return out;
  }

  async function typeCounts(uris: readonly string[]): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const uri of uris) {
      const client = new MongoClient(uri);
      clients.push(client);
      const col = client.db(db).collection(COLLECTION);
      for (const [field, type] of Object.entries(FIELDS)) {
        counts[field] = (counts[field] ?? 0) + (await col.countDocuments({ [field]: { $type: type }, _moved: { $exists: false } }));
      }
    }
    return counts;
  }

  it('moves doubles, int32s, longs, decimals, dates and UUID binaries with their exact types', async function () {
    expect(shards.length, 'this test needs 4 shard servers').to.be.at.least(4);
    const uris = shards.slice(0, 4);
    const decimal = await serverHasDecimal(uris[0] as string);
    if (decimal) FIELDS = { ...BASE_FIELDS, dec: 'decimal' };
    else console.log('      (this server has no decimal128: checked on MongoDB only)');
    const from = Topology.from({
      name: 'types',
      epoch: 1,
      hash: 'xxhash32',
      vnodes: 64,
      placement: 'hashed',
      shards: uris.slice(0, 3).map((uri, i) => ({ id: `s${i + 1}`, weight: 1, uri, db })),
    });
    const to = from.with({ kind: 'add', shard: { id: 's4', weight: 1, uri: uris[3] as string, db } });
    const pool = new MongoShardPool({ collection: COLLECTION, topology: [from.toJSON(), to.toJSON()], opTimeoutMs: 5000 });
    const config = new MemoryConfigStore({ initial: { phase: 'stable', epoch: 1, topology: from.toJSON() } });
    try {
      const coll = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: from.toJSON() }), pool });
      for (const id of ['s1', 's2', 's3', 's4']) await pool.store(id).ensureRoutingIndex();
      const n = 80;
      const uuid = new Binary(Buffer.from('0123456789abcdef0123456789abcdef', 'hex'), Binary.SUBTYPE_UUID);
      await coll.insertMany(
        Array.from({ length: n }, (_, k) => ({
          _id: `t${k}`,
          d: new Double(8 + k),
          i: new Int32(k),
          l: Long.fromNumber(k),
          ...(decimal ? { dec: Decimal128.fromString(`${k}.50`) } : {}),
          dt: new Date(1_700_000_000_000 + k),
          bin: uuid,
        })),
      );
      const before = await typeCounts(uris);
      expect(before).to.deep.equal(Object.fromEntries(Object.keys(FIELDS).map((f) => [f, n])));

      const report = await new Migrator({ config, pool, owner: 'types', leaseMs: 3000, opTimeoutMs: 500, batchSize: 16 }).start(to);
      expect(report.outcome).to.equal('completed');
      expect(report.counters.docsMoved, 'documents the migration moved').to.be.greaterThan(0);

      expect(await typeCounts(uris)).to.deep.equal(before);
      const docs = await everyDoc(uris);
      expect(docs).to.have.length(n);
      for (const d of docs) {
        const k = Number(String(d['_id']).slice(1));
        expect((d['d'] as { _bsontype?: string })._bsontype, `${String(d['_id'])}.d`).to.equal('Double');
        expect((d['d'] as Double).value).to.equal(8 + k);
        expect((d['i'] as { _bsontype?: string })._bsontype, `${String(d['_id'])}.i`).to.equal('Int32');
        expect((d['l'] as { _bsontype?: string })._bsontype, `${String(d['_id'])}.l`).to.equal('Long');
        if (decimal) expect(String(d['dec'])).to.equal(`${k}.50`);
        expect(d['dt']).to.be.instanceOf(Date);
        expect((d['bin'] as Binary).sub_type, `${String(d['_id'])}.bin subtype`).to.equal(Binary.SUBTYPE_UUID);
      }
      const state = await config.load();
      const after = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource(state as NonNullable<typeof state>), pool });
      expect(await after.countDocuments({ d: { $type: 'double' } })).to.equal(n);
      expect(await after.countDocuments({ l: { $type: 'long' } })).to.equal(n);
    } finally {
      await pool.close();
    }
  });

  /**
   * Issue 9: `MongoStore.fence` read back promoted values, so a router that moved a key itself (a write
   * on a moving key while migrating: fence at the old owner, copy to the new) wrote a double 8.0 as an
   * int32 8 and a long as an int32. Fails on the old code: `d` and `l` arrive as Int32.
   */
  it("keeps a double 8.0 and a long when a router's own per-key copy moves them while migrating", async function () {
    const uris = shards.slice(0, 4);
    const rdb = uniqueDbName('bsonrouter');
    const from = Topology.from({ name: 'typed', epoch: 1, hash: 'xxhash32', vnodes: 64, placement: 'hashed', shards: uris.slice(0, 3).map((uri, i) => ({ id: `s${i + 1}`, weight: 1, uri, db: rdb })) });
    const to = from.with({ kind: 'add', shard: { id: 's4', weight: 1, uri: uris[3] as string, db: rdb } });
    const pool = new MongoShardPool({ collection: COLLECTION, topology: [from.toJSON(), to.toJSON()], opTimeoutMs: 5000 });
    const raw = new MongoClient(uris[3] as string);
    clients.push(raw);
    try {
      const before = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: from.toJSON() }), pool });
      const keys = Array.from({ length: 60 }, (_, k) => `r${k}`);
      await before.insertMany(keys.map((_id) => ({ _id, d: new Double(8), l: Long.fromString('9007199254740993') })));
      const r1 = ShardRouter.fromTopology(from);
      const r2 = ShardRouter.fromTopology(to);
      const moving = keys.filter((k) => r1.route(k) !== r2.route(k));
      expect(moving.length, 'keys that move to s4').to.be.greaterThan(0);
      const during = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource({ phase: 'migrating', epoch: 2, from: from.toJSON(), topology: to.toJSON(), migrationId: 'm-types' }), pool });
      // The copier has fenced the keys at their old owners, their copies in flight: a write of another
      // field then copies each key to s4 itself, read back from its fence, before writing it there.
      for (const _id of moving) await pool.store(r1.route(_id)).fence([{ id: _id, h: r2.point(_id) }], 2);
      for (const _id of moving) expect((await during.updateOne({ _id }, { $set: { touched: true } })).modifiedCount).to.equal(1);
      const copies = await raw.db(rdb).collection(COLLECTION).find({ _id: { $in: moving } as never }, { promoteValues: false, promoteLongs: false }).toArray();
      expect(copies, 'every moved key at s4').to.have.length(moving.length);
      for (const c of copies) {
        expect((c['d'] as { _bsontype?: string })._bsontype, `${String(c['_id'])}.d`).to.equal('Double');
        expect((c['d'] as Double).value).to.equal(8);
        expect((c['l'] as { _bsontype?: string })._bsontype, `${String(c['_id'])}.l`).to.equal('Long');
        expect((c['l'] as Long).toString()).to.equal('9007199254740993');
      }
      expect(await during.countDocuments({ d: { $type: 'double' } })).to.equal(keys.length);
      expect(await during.countDocuments({ l: { $type: 'long' } })).to.equal(keys.length);
    } finally {
      await pool.close();
      for (const uri of uris) {
        const c = new MongoClient(uri);
        await c.db(rdb).dropDatabase().catch(() => undefined);
        await c.close();
      }
    }
  });
});
