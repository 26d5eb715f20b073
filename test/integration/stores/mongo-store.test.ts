import { expect } from 'chai';
import { Double, MongoClient } from 'mongodb';
import type { CommandStartedEvent, Document } from 'mongodb';
import { ErrorCode, ShardkitStoreError } from '../../../src/errors.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';
import { describeShardStoreContract } from '../../support/shard-store-contract.js';
import { busyOnBatches } from '../../support/busy-batches.js';

const { shards } = testServerUris();
const uri = shards[0] as string;
const db = uniqueDbName('store_contract');
let client: MongoClient;
let seq = 0;

before(async function () {
  client = new MongoClient(uri);
  await client.connect();
});

after(async function () {
  await client.db(db).dropDatabase().catch(() => undefined);
  await client.close();
});

describeShardStoreContract('MongoStore', {
  // One shared client (the store does not own it), a fresh collection per test.
  create: async (shardId) => new MongoStore({ shardId, client, db, collection: `c${++seq}`, opTimeoutMs: 5000 }),
  // FerretDB 1.x rejects update pipelines; set SHARDKIT_PIPELINE_UPDATES=1 against real MongoDB.
  pipelineUpdates: process.env['SHARDKIT_PIPELINE_UPDATES'] === '1',
  propertyRuns: 8,
});

describe('MongoStore', function () {
  describe('#get', function () {
    it("sends the find command the driver's findOne sends, with the read concern of the client's connection string", async function () {
      const seen: Document[] = [];
      // The collection's own read concern comes from the connection string, as an application sets it.
      const monitored = new MongoClient(`${uri}${uri.includes('?') ? '&' : '?'}readConcernLevel=local`, { monitorCommands: true });
      monitored.on('commandStarted', (e: CommandStartedEvent) => {
        if (e.databaseName === db && (e.commandName === 'find' || e.commandName === 'insert')) seen.push(e.command);
      });
      await monitored.connect();
      try {
        const collection = `get${++seq}`;
        const store = new MongoStore({ shardId: 's1', client: monitored, db, collection, opTimeoutMs: 5000 });
        await store.insert({ _id: 'k', _h: 1, _v: 1, n: new Double(5) });
        seen.length = 0;
        expect(await store.get('k')).to.deep.equal({ _id: 'k', _h: 1, _v: 1, n: 5 });
        expect(await store.get('absent')).to.equal(null);
        const viaStore = seen.map(({ lsid: _l, $db: _d, maxTimeMS, ...rest }) => ({ ...rest, maxTimeMS: typeof maxTimeMS }));
        seen.length = 0;
        await monitored.db(db).collection(collection).findOne({ _id: 'k' as never }, { maxTimeMS: 5000 });
        const viaDriver = seen.map(({ lsid: _l, $db: _d, maxTimeMS, ...rest }) => ({ ...rest, maxTimeMS: typeof maxTimeMS }));
        expect(viaStore[0]).to.deep.equal(viaDriver[0]);
        expect(viaStore[0]).to.deep.include({ find: collection, filter: { _id: 'k' }, limit: 1, singleBatch: true, readConcern: { level: 'local' }, maxTimeMS: 'number' });
        expect(viaStore[1]).to.deep.include({ filter: { _id: 'absent' } });
      } finally {
        await monitored.close();
      }
    });
  });

  describe('.connect', function () {
    it('connects with its own client and closes it', async function () {
      const store = await MongoStore.connect({ shardId: 's1', uri, db, collection: 'own', opTimeoutMs: 5000 });
      await store.insert({ _id: 'a', _h: 1, _v: 1 });
      expect((await store.get('a'))?._v).to.equal(1);
      await store.close();
    });

    context('when the server is unreachable', function () {
      it('fails fast with storeUnavailable naming the shard and never the password', async function () {
        const started = Date.now();
        try {
          await MongoStore.connect({ shardId: 'dead', uri: 'mongodb://user:s3cret@127.0.0.1:1/x', collection: 'c', opTimeoutMs: 300 });
          expect.fail('expected unavailable');
        } catch (error) {
          expect(error).to.be.instanceOf(ShardkitStoreError);
          const e = error as ShardkitStoreError;
          expect(e.code).to.equal(ErrorCode.storeUnavailable);
          expect(e.shardId).to.equal('dead');
          expect(e.message).to.contain('shard dead');
          expect(e.message).to.not.contain('s3cret');
          expect(e.cause).to.be.instanceOf(Error);
        }
        expect(Date.now() - started).to.be.below(5000);
      });
    });
  });

  describe('#hasRoutingIndex', function () {
    it('is false before the collection exists', async function () {
      const store = new MongoStore({ shardId: 's1', client, db, collection: 'never-created' });
      expect(await store.hasRoutingIndex()).to.equal(false);
    });
  });

  describe('#updateOne', function () {
    // The plain driver's modifiedCount on a plain copy of the document is the reference.
    const body = { n: 5, d: new Double(5), s: 'x', tags: ['a'], sub: { a: 1 } };
    let monitored: MongoClient;
    const sent: string[] = [];

    before(async function () {
      monitored = new MongoClient(uri, { monitorCommands: true });
      monitored.on('commandStarted', (e: CommandStartedEvent) => {
        if (e.databaseName === db && e.commandName !== 'endSessions') sent.push(e.commandName);
      });
      await monitored.connect();
    });

    after(async function () {
      await monitored.close();
    });

    async function compare(updates: Document[]): Promise<Array<{ modified: number; driver: number; commands: string[] }>> {
      const store = new MongoStore({ shardId: 's1', client: monitored, db, collection: `upd${++seq}` });
      const plain = client.db(db).collection(`plain${seq}`);
      const out: Array<{ modified: number; driver: number; commands: string[] }> = [];
      for (const update of updates) {
        await store.insert({ _id: 'k', _h: 1, _v: 1, ...body });
        await plain.insertOne({ _id: 'k' as never, ...body });
        sent.length = 0;
        const { modified } = await store.updateOne({ _id: 'k' }, { ...update, $setOnInsert: { _h: 1 } });
        out.push({ modified, driver: (await plain.updateOne({ _id: 'k' as never }, update)).modifiedCount, commands: [...sent] });
        await store.deleteOne({ _id: 'k' });
        await plain.deleteOne({ _id: 'k' as never });
      }
      return out;
    }

    it('sends one findAndModify for a $set, $unset or $inc by 0 and reports modified as the driver does', async function () {
      const updates = [{ $set: { n: 5 } }, { $set: { n: 6 } }, { $set: { d: 5 } }, { $set: { tags: ['a'], 'sub.a': 1 } }, { $unset: { gone: '' } }, { $unset: { s: '' } }, { $inc: { n: 0 } }];
      const out = await compare(updates);
      expect(out.map((r) => r.commands)).to.deep.equal(updates.map(() => ['findAndModify']));
      // An $inc by 0 is a no-op to MongoDB (modifiedCount 0); FerretDB 1.24 counts it as a modification.
      expect(out.slice(0, -1).map((r) => r.modified)).to.deep.equal(out.slice(0, -1).map((r) => r.driver));
      expect(out.map((r) => r.modified)).to.deep.equal([0, 1, 1, 0, 0, 1, 0]);
    });

    it('sends one update for an update that changes whatever it matches', async function () {
      const out = await compare([{ $inc: { n: 1 } }, { $push: { tags: 'b' } }]);
      expect(out).to.deep.equal([
        { modified: 1, driver: 1, commands: ['update'] },
        { modified: 1, driver: 1, commands: ['update'] },
      ]);
    });

    it('reads the version first for an update the document before cannot decide, and reports modified as the driver does', async function () {
      const out = await compare([{ $addToSet: { tags: 'a' } }, { $addToSet: { tags: 'b' } }]);
      expect(out.map((r) => r.commands)).to.deep.equal([
        ['find', 'findAndModify'],
        ['find', 'findAndModify'],
      ]);
      expect(out.map((r) => r.modified)).to.deep.equal([0, 1]);
      expect(out.map((r) => r.driver)).to.deep.equal([0, 1]);
    });

    it('upserts in the one findAndModify and reports the new _id', async function () {
      const store = new MongoStore({ shardId: 's1', client: monitored, db, collection: `upd${++seq}` });
      sent.length = 0;
      expect(await store.updateOne({ _id: 7 }, { $set: { a: 1 }, $setOnInsert: { _h: 2 } }, { upsert: true })).to.deep.equal({ matched: 0, modified: 0, upsertedId: 7 });
      expect(sent).to.deep.equal(['findAndModify']);
      expect(await store.get(7)).to.deep.equal({ _id: 7, _h: 2, _v: 1, a: 1 });
    });
  });

  describe('#countRanges and #checksumRanges', function () {
    it("read the ranges' entries alone, an $or of the ranges where the index answers it, else the scan itself, and test the protocol's filters at the client", async function () {
      const filters: Document[] = [];
      const monitored = new MongoClient(uri, { monitorCommands: true });
      monitored.on('commandStarted', (e: CommandStartedEvent) => {
        if (e.databaseName === db && e.commandName === 'find') filters.push(e.command['filter'] as Document);
      });
      try {
        const store = new MongoStore({ shardId: 's1', client: monitored, db, collection: `pass${++seq}` });
        await store.insertIfAbsent([1, 5, 7, 25, 40].map((h) => ({ _id: `k${h}`, _h: h, _v: 1, a: h % 2 })));
        await store.fence([{ id: 'k5', h: 5 }], 3);
        filters.length = 0;
        const ranges = Array.from({ length: 40 }, (_, i) => ({ start: i * 10, end: i * 10 + 5 }));
        const { counts, indexed } = await store.countRanges(ranges);
        // k7 lies between two ranges and k40 on a range's open start: in no range.
        expect(counts.slice(0, 5)).to.deep.equal([2, 0, 1, 0, 0]);
        expect(counts.reduce((a, b) => a + b)).to.equal(3);
        // A protocol filter is tested by the client: the fenced k5 is left out.
        expect((await store.countRanges(ranges, { _moved: { $exists: false } })).counts.slice(0, 3)).to.deep.equal([1, 0, 1]);
        expect((await store.checksumRanges(ranges, { _moved: 3 })).map((r) => r.count).slice(0, 3)).to.deep.equal([1, 0, 0]);
        const protocolPasses = filters.splice(0);
        expect(protocolPasses.length).to.be.greaterThan(0);
        for (const f of protocolPasses) {
          if (indexed) expect(Object.keys(f), JSON.stringify(f)).to.deep.equal(['$or']);
          else expect(f, 'a server that scans is asked for the scan itself, a batch at a time').to.deep.equal({});
        }
        // Any other filter goes to the server, with the ranges' hull where it scans (40 ranges as an $or
        // outlasted verify's deadline on FerretDB), an $or of them where the index answers.
        expect((await store.checksumRanges(ranges, { a: 1 })).reduce((n, r) => n + r.count, 0)).to.equal(3);
        for (const f of filters) expect(JSON.stringify(f).includes('$or'), JSON.stringify(f)).to.equal(indexed);
        expect(filters.some((f) => JSON.stringify(f).includes('"a":1'))).to.equal(true);
      } finally {
        await monitored.close();
      }
    });

    it("tallyRanges reads the ranges once for all its protocol figures, once per filter for any other", async function () {
      const finds: Document[] = [];
      const monitored = new MongoClient(uri, { monitorCommands: true });
      monitored.on('commandStarted', (e: CommandStartedEvent) => {
        if (e.databaseName === db && e.commandName === 'find' && e.command['projection']?.['_ph'] === 1) finds.push(e.command['filter'] as Document);
      });
      try {
        const store = new MongoStore({ shardId: 's1', client: monitored, db, collection: `tally${++seq}` });
        // Ranges (20i, 20i + 10] hold the even keys; a is 1 on every other of them.
        await store.insertIfAbsent(Array.from({ length: 40 }, (_, i) => ({ _id: `k${i}`, _h: i * 10 + 1, _v: 1, a: Math.floor(i / 2) % 2 })));
        await store.fence([{ id: 'k4', h: 41 }, { id: 'k6', h: 61 }], 2);
        const ranges = Array.from({ length: 20 }, (_, i) => ({ start: i * 20, end: i * 20 + 10 }));
        finds.length = 0;
        const live = { _moved: { $exists: false } };
        const tally = await store.tallyRanges(ranges, { checksums: [{ _moved: 2 }], counts: [live, { _moved: { $exists: true } }] });
        expect(finds.length, 'one pass for the three figures').to.equal(1);
        expect(tally.counts[0]!.reduce((a, b) => a + b)).to.equal(18);
        expect(tally.counts[1]!.reduce((a, b) => a + b)).to.equal(2);
        expect(tally.checksums[0]).to.deep.equal(await store.checksumRanges(ranges, { _moved: 2 }));
        finds.length = 0;
        const other = await store.tallyRanges(ranges, { checksums: [{ a: 1 }], counts: [live] });
        expect(finds.length, 'a pass per filter when one names an application field').to.equal(2);
        expect(other.checksums[0]!.reduce((n, r) => n + r.count, 0)).to.equal(10);
      } finally {
        await monitored.close();
      }
    });

    // Regression: verify's passes ran as one call each, under one opTimeoutMs; on FerretDB a pass over
    // 50,000 entries took 2.3 to 2.5 s against the migrator's default 2 s, so verify could not finish on
    // a shard of that size however often it was resumed.
    it('read a pass a batch at a time, each batch under a deadline of its own, where one call would time out', async function () {
      const monitored = new MongoClient(uri, { monitorCommands: true });
      // Every batch's answer holds this process for 60 ms: 10 batches or more take 600 ms, over the store's 250.
      const batches = busyOnBatches(monitored, db, 60);
      try {
        const store = new MongoStore({ shardId: 's1', client: monitored, db, collection: `long${++seq}`, opTimeoutMs: 250 });
        const n = 6000;
        const plain = new MongoStore({ shardId: 's1', uri, db, collection: `long${seq}` });
        for (let i = 0; i < n; i += 3000) {
          await plain.insertIfAbsent(Array.from({ length: 3000 }, (_, j) => ({ _id: i + j, _h: ((i + j) * 2654435761) % 4294967296, _v: 1 })));
        }
        await plain.close();
        const whole = [{ start: -1, end: 4294967295 }];
        batches.count = 0;
        const { counts } = await store.countRanges(whole);
        expect(counts).to.deep.equal([n]);
        const { indexed } = await store.countRanges([{ start: 0, end: 1 }]);
        if (!indexed) expect(batches.count, 'the scan in batches').to.be.at.least(10);
        batches.count = 0;
        const started = performance.now();
        const [sum] = await store.checksumRanges(whole, { _moved: { $exists: false } });
        const tookMs = performance.now() - started;
        expect(sum?.count).to.equal(n);
        expect(batches.count).to.be.at.least(10);
        // Well over the store's 250 ms: as one call (what a pass was before) it would have timed out.
        expect(tookMs).to.be.above(500);
      } finally {
        await monitored.close();
      }
    });
  });
});
