/**
 * Issue 9, part 7, on MongoDB-wire servers: the driver options an application sets on a call reach
 * the server in every request of it (seen in the driver's command monitoring on the router's own
 * clients), `maxTimeMS` bounds a scan that would outlast it, and a read preference works on a
 * standalone server.
 */
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import type { CommandStartedEvent, Document } from 'mongodb';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ErrorCode } from '../../../src/errors.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import { Topology } from '../../../src/topology/topology.js';
import { rejection } from '../../support/rejection.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const { shards } = testServerUris();
const db = uniqueDbName('driveropts');
const COLLECTION = 'opts';
const DOCS = 16_000;

/** The documents of a read, whatever shape `find` answers in (an array, or a cursor once it returns one). */
async function all(found: unknown): Promise<Document[]> {
  const settled: unknown = await found;
  if (Array.isArray(settled)) return settled as Document[];
  return (settled as { toArray(): Promise<Document[]> }).toArray();
}

describe('driver options on MongoDB-wire servers', function () {
  this.timeout(300_000);
  const clients: MongoClient[] = [];
  const started: CommandStartedEvent[] = [];
  let coll: ShardedCollection;

  before(async function () {
    expect(shards.length, 'this test needs 2 shard servers').to.be.at.least(2);
    const uris = shards.slice(0, 2);
    const topology = Topology.from({ name: 'opts', epoch: 1, hash: 'xxhash32', vnodes: 64, placement: 'hashed', shards: uris.map((uri, i) => ({ id: `s${i + 1}`, weight: 1, uri, db })) });
    // The router's own clients, with command monitoring on: what they send is what the servers get.
    const stores = new Map<string, ShardStore>();
    uris.forEach((uri, i) => {
      const client = new MongoClient(uri, { monitorCommands: true });
      client.on('commandStarted', (e) => started.push(e));
      clients.push(client);
      stores.set(`s${i + 1}`, new MongoStore({ shardId: `s${i + 1}`, client, db, collection: COLLECTION, opTimeoutMs: 60_000 }));
    });
    const pool = { store: (id: string): ShardStore => stores.get(id) as ShardStore };
    for (const s of stores.values()) await s.ensureRoutingIndex();
    coll = new ShardedCollection({ name: COLLECTION, routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: topology.toJSON() }), pool });
    for (let start = 0; start < DOCS; start += 2000) {
      await coll.insertMany(Array.from({ length: 2000 }, (_, k) => ({ _id: `d${start + k}`, n: start + k, g: (start + k) % 8, pad: 'x'.repeat(64) })));
    }
  });

  after(async function () {
    for (const client of clients) {
      await client.db(db).dropDatabase().catch(() => undefined);
      await client.close();
    }
  });

  /** The commands named `name` sent since `from`. */
  const sent = (from: number, name: string): Document[] => started.slice(from).filter((e) => e.commandName === name).map((e) => e.command);

  it('sends comment with every request of a read and of a write, and the write concern with the write', async function () {
    let from = started.length;
    expect(await coll.countDocuments({ g: 3 }, { comment: 'dopt-count' })).to.equal(DOCS / 8);
    const counts = sent(from, 'aggregate');
    expect(counts, 'one count per shard').to.have.length(2);
    expect(counts.every((c) => c['comment'] === 'dopt-count')).to.equal(true);

    from = started.length;
    expect(await all(coll.find({ n: { $lt: 5 } }, { comment: 'dopt-find', sort: { n: 1 } }))).to.have.length(5);
    const finds = sent(from, 'find');
    expect(finds).to.have.length(2);
    expect(finds.every((c) => c['comment'] === 'dopt-find')).to.equal(true);

    from = started.length;
    const r = await coll.updateOne({ _id: 'd7' }, { $inc: { n: 0.5 } }, { comment: 'dopt-update', writeConcern: { w: 1, journal: true } });
    expect(r).to.deep.equal({ acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null });
    // The single-key protocol reads the version, then writes conditioned on it (find, then findAndModify).
    const commands = started.slice(from).map((e) => ({ name: e.commandName, command: e.command }));
    const writes = commands.filter((c) => ['update', 'findAndModify', 'insert', 'delete'].includes(c.name));
    expect(writes.length, 'writes sent').to.be.greaterThan(0);
    expect(commands.every((c) => c.command['comment'] === 'dopt-update'), JSON.stringify(commands)).to.equal(true);
    expect(writes.every((c) => JSON.stringify(c.command['writeConcern']) === JSON.stringify({ w: 1, j: true })), JSON.stringify(writes)).to.equal(true);
    expect(await coll.estimatedDocumentCount({ comment: 'dopt-est' })).to.equal(DOCS);
  });

  it('fails a scan that outlasts maxTimeMS with shardkit.store.timeout; the same scan without it answers', async function () {
    // A filter nothing matches: every shard scans its whole collection.
    const error = await rejection(all(coll.find({ n: -1 }, { maxTimeMS: 1 })));
    expect(error.code, error.message).to.equal(ErrorCode.storeTimeout);
    expect(await rejection(coll.countDocuments({ n: -1 }, { maxTimeMS: 1 }))).to.have.property('code', ErrorCode.storeTimeout);
    const started0 = Date.now();
    expect(await all(coll.find({ n: -1 }, { maxTimeMS: 120_000 }))).to.deep.equal([]);
    console.log(`      the full scan of ${DOCS} documents over 2 shards took ${Date.now() - started0} ms`);
  });

  it('reads with readPreference secondaryPreferred on a standalone server (the driver sends it to the one there is)', async function () {
    const docs = await all(coll.find({ g: 5, n: { $lt: 100 } }, { readPreference: 'secondaryPreferred', sort: { n: 1 } }));
    expect(docs.map((d) => d['n'])).to.deep.equal([5, 13, 21, 29, 37, 45, 53, 61, 69, 77, 85, 93]);
    expect(await coll.findOne({ _id: 'd9' }, { readPreference: 'secondaryPreferred', readConcern: { level: 'local' } })).to.include({ _id: 'd9', n: 9 });
  });
});
