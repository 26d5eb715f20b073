import { expect } from 'chai';
import { Double, Int32, MongoClient } from 'mongodb';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ErrorCode } from '../../../src/errors.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MongoShardPool } from '../../../src/stores/shard-pool.js';
import { Topology } from '../../../src/topology/topology.js';
import { rejection } from '../../support/rejection.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const { shards } = testServerUris();
const db = uniqueDbName('parity');
const COLLECTION = 'parity';

/** Issue 9, part 0, where only a real server tells the types apart (a MemoryStore holds promoted JS values). */
describe('ShardedCollection answers as the driver does, on MongoDB-wire servers', function () {
  this.timeout(60_000);
  let pool: MongoShardPool;
  let coll: ShardedCollection;

  before(async function () {
    const topology = Topology.from({
      name: 'parity',
      epoch: 1,
      hash: 'xxhash32',
      vnodes: 64,
      placement: 'hashed',
      shards: shards.slice(0, 3).map((uri, i) => ({ id: `s${i + 1}`, weight: 1, uri, db })),
    });
    pool = new MongoShardPool({ collection: COLLECTION, topology: topology.toJSON(), opTimeoutMs: 5000 });
    coll = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: topology.toJSON() }), pool });
    await coll.ensureRoutingIndexes();
    await coll.insertMany([
      { _id: 'k1', n: new Int32(8), tags: [] },
      { _id: 'k2', n: new Double(8), tags: ['a'] },
      { _id: 'k101', s: 'a' },
    ]);
  });

  after(async function () {
    await pool.close();
    for (const uri of shards.slice(0, 3)) {
      const client = new MongoClient(uri);
      await client.db(db).dropDatabase().catch(() => undefined);
      await client.close();
    }
  });

  it('answers $type on a read that pins _id as the server does (issue 9: any JS number matched int, long and double)', async function () {
    expect(await coll.find({ _id: 'k1', n: { $type: 'double' } }).toArray()).to.deep.equal([]);
    expect(await coll.find({ _id: 'k1', n: { $type: 'int' } }).toArray()).to.have.length(1);
    expect(await coll.find({ _id: 'k2', n: { $type: 'double' } }).toArray()).to.have.length(1);
    expect(await coll.countDocuments({ _id: 'k1', n: { $type: 'double' } })).to.equal(0);
    expect(await coll.countDocuments({ n: { $type: 'double' } })).to.equal(1);
    // A delete that pins _id while keys move is decided the same way (by the shard, on the version read).
    expect(await coll.deleteOne({ _id: 'k1', n: { $type: 'long' } })).to.deep.equal({ acknowledged: true, deletedCount: 0 });
  });

  it('reports modifiedCount 0 for an update or a replacement that changes nothing', async function () {
    expect(await coll.updateOne({ _id: 'k1' }, { $set: { tags: [] } })).to.include({ matchedCount: 1, modifiedCount: 0 });
    expect(await coll.updateOne({ _id: 'k2' }, { $addToSet: { tags: 'a' } })).to.include({ matchedCount: 1, modifiedCount: 0 });
    // The same value with another type is a modification, as on one server.
    expect(await coll.updateOne({ _id: 'k2' }, { $set: { n: new Int32(8) } })).to.include({ matchedCount: 1, modifiedCount: 1 });
    expect(await coll.replaceOne({ _id: 'k101' }, { s: 'a' })).to.include({ matchedCount: 1, modifiedCount: 0 });
    expect(await coll.updateOne({ _id: 'k1' }, { $set: { m: 1 } })).to.include({ matchedCount: 1, modifiedCount: 1 });
  });

  it('answers an upsert whose filter misses an existing _id with a duplicate-key error (E11000)', async function () {
    const error = await rejection(coll.updateOne({ _id: 'k101', s: 'é' }, { $set: { x: 1 } }, { upsert: true }));
    expect(error.code).to.equal(ErrorCode.storeDuplicateKey);
    expect(await coll.findOne({ _id: 'k101' })).to.deep.equal({ _id: 'k101', s: 'a' });
  });
});
