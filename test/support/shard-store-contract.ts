/**
 * One contract suite for every `ShardStore`: it runs on `MemoryStore` in test/unit and on
 * `MongoStore` against FerretDB (or MongoDB) in test/integration, so both keep one semantics.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Binary, BSON, ObjectId } from 'mongodb';
import type { Document } from 'mongodb';
import { ErrorCode, ShardkitError, ShardkitInvalidArgumentError, ShardkitStoreError } from '../../src/errors.js';
import { idKey } from '../../src/stores/bson-order.js';
import type { ShardStore, StoredDocument } from '../../src/stores/shard-store.js';

/** How the contract suite gets a fresh, empty store for each test. */
export interface ShardStoreContractOptions {
  /** A new empty store for shard `shardId`. */
  create(shardId: string): Promise<ShardStore>;
  /** Whether the server supports pipeline updates (FerretDB 1.x does not: it must then fail loudly). */
  readonly pipelineUpdates: boolean;
  /** fast-check runs for the property tests (I/O-bound stores use fewer). */
  readonly propertyRuns?: number;
}

async function expectStoreError(promise: Promise<unknown>, code: ErrorCode, shardId: string): Promise<ShardkitStoreError> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(ShardkitStoreError);
    const e = error as ShardkitStoreError;
    expect(e.code).to.equal(code);
    expect(e.shardId).to.equal(shardId);
    expect(e.message).to.contain(shardId);
    return e;
  }
  expect.fail(`expected ${code}`);
}

async function expectMisuse(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(ShardkitInvalidArgumentError);
    return;
  }
  expect.fail('expected ShardkitInvalidArgumentError');
}

const ids = (docs: readonly StoredDocument[]): string[] => docs.map((d) => idKey(d._id));
const doc = (id: unknown, h: number, extra: Record<string, unknown> = {}): StoredDocument => ({ _id: id, _h: h, _v: 1, ...extra });
/**
 * A fence's answer as `get` reads it: `fence` keeps exact BSON types on a server (an `Int32` where
 * `get` says 1), since what it returns is copied to another shard; the values compare the same.
 */
const promoted = <T extends StoredDocument | undefined>(d: T): T => (d === undefined ? d : (BSON.deserialize(BSON.serialize(d)) as T));

/** Register the contract suite for one store implementation. */
export function describeShardStoreContract(name: string, options: ShardStoreContractOptions): void {
  describe(`ShardStore contract: ${name}`, function () {
    let store: ShardStore;
    const shardId = 'shard-c';

    beforeEach(async function () {
      store = await options.create(shardId);
    });

    afterEach(async function () {
      await store.close();
    });

    describe('#ping', function () {
      it('resolves on a reachable shard', async function () {
        await store.ping();
        expect(store.shardId).to.equal(shardId);
      });
    });

    describe('#ensureRoutingIndex', function () {
      it('creates the {_h: 1, _id: 1} index once, idempotently', async function () {
        await store.insert(doc('a', 1));
        expect(await store.hasRoutingIndex()).to.equal(false);
        await store.ensureRoutingIndex();
        await store.ensureRoutingIndex();
        expect(await store.hasRoutingIndex()).to.equal(true);
      });
    });

    describe('#aggregate', function () {
      it('runs over live documents only, with no internal field, whatever the stages reach for', async function () {
        await store.insert(doc('live1', 1, { g: 'x', n: 2 }));
        await store.insert(doc('live2', 2, { g: 'x', n: 3 }));
        await store.insert(doc('fenced', 3, { g: 'x', n: 100 }));
        await store.fence([{ id: 'fenced', h: 3 }], 1);
        await store.fence([{ id: 'ph', h: 4 }], 1);
        await store.insert(doc('dead', 5, { g: 'x', n: 100 }));
        await store.tombstone('dead', 5, 2, 1);
        const plain = await store.aggregate([{ $match: { g: 'x' } }, { $sort: { _id: 1 } }]);
        expect(plain).to.deep.equal([
          { _id: 'live1', g: 'x', n: 2 },
          { _id: 'live2', g: 'x', n: 3 },
        ]);
        // One accumulator per $group: FerretDB 1.24 answers 0 for every accumulator after the first.
        expect(await store.aggregate([{ $group: { _id: '$g', s: { $sum: '$n' } } }])).to.deep.equal([{ _id: 'x', s: 5 }]);
        expect(await store.aggregate([{ $group: { _id: '$g', c: { $sum: 1 } } }])).to.deep.equal([{ _id: 'x', c: 2 }]);
        expect(await store.aggregate([{ $project: { g: 0 } }, { $sort: { _id: 1 } }])).to.deep.equal([
          { _id: 'live1', n: 2 },
          { _id: 'live2', n: 3 },
        ]);
        expect(await store.aggregate([{ $count: 'n' }])).to.deep.equal([{ n: 2 }]);
      });

      it('keeps BSON types with exactTypes', async function () {
        await store.insert(doc('a', 1, { n: 2.5 }));
        const [exact] = await store.aggregate([{ $project: { n: 1 } }], { exactTypes: true });
        const n = (exact as Document)['n'] as { _bsontype?: string } | number;
        // MemoryStore holds JS values; a server answers a Double wrapper, not a promoted number.
        if (typeof n !== 'number') expect(n._bsontype).to.equal('Double');
        expect(typeof n === 'number' ? n : (n as { valueOf(): number }).valueOf()).to.equal(2.5);
      });
    });

    describe('#insert', function () {
      it('stores the document as given and get() returns a copy', async function () {
        const input = doc('k1', 10, { name: 'x', nested: { n: 1 } });
        await store.insert(input);
        input['name'] = 'mutated';
        const got = await store.get('k1');
        expect(got).to.deep.equal({ _id: 'k1', _h: 10, _v: 1, name: 'x', nested: { n: 1 } });
        (got?.['nested'] as { n: number }).n = 99;
        expect((await store.get('k1'))?.['nested']).to.deep.equal({ n: 1 });
      });

      it('fails with duplicateKey on an existing _id of any kind, naming the shard', async function () {
        await store.insert(doc('a', 1));
        await store.fence([{ id: 'ph', h: 2 }], 5);
        await store.tombstone('ts', 3, 4);
        for (const id of ['a', 'ph', 'ts']) {
          await expectStoreError(store.insert(doc(id, 1)), ErrorCode.storeDuplicateKey, shardId);
        }
      });

      it('treats a number and a bigint of the same value as one _id, as the unique index does', async function () {
        await store.insert(doc(42, 7));
        await expectStoreError(store.insert(doc(42n, 7)), ErrorCode.storeDuplicateKey, shardId);
        await store.insert(doc('42', 7));
        expect(await store.count({ _h: 7 })).to.equal(2);
      });

      it('rejects a document without _id or with a bad _h as misuse', async function () {
        await expectMisuse(store.insert({ _h: 1, _v: 1 } as unknown as StoredDocument));
        await expectMisuse(store.insert(doc('a', -1)));
        await expectMisuse(store.insert(doc('a', 2 ** 32)));
      });
    });

    describe('#insertIfAbsent', function () {
      it('inserts only absent ids and never overwrites what is there', async function () {
        await store.insert(doc('a', 1, { _v: 7, x: 'newer' }));
        await store.tombstone('t', 2, 3);
        const n = await store.insertIfAbsent([doc('a', 1, { x: 'older' }), doc('b', 2), doc('t', 2), doc('c', 3), doc('b', 2, { x: 'dup in batch' })]);
        expect(n).to.equal(2);
        expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 7, x: 'newer' });
        expect(await store.get('t')).to.deep.equal({ _id: 't', _h: 2, _v: 3, _ts: true });
        expect(await store.get('b')).to.deep.equal({ _id: 'b', _h: 2, _v: 1 });
        expect(await store.insertIfAbsent([doc('b', 2), doc('c', 3)])).to.equal(0);
      });

      it('resolves 0 for an empty batch', async function () {
        expect(await store.insertIfAbsent([])).to.equal(0);
      });
    });

    describe('#updateOne', function () {
      it('applies the operators to a live document and bumps _v', async function () {
        await store.insert(doc('a', 1, { n: 1, tags: ['x'] }));
        const out = await store.updateOne({ _id: 'a' }, { $inc: { n: 2 }, $set: { s: 'y' }, $push: { tags: 'z' } } as Document);
        expect(out).to.deep.include({ matched: 1, modified: 1 });
        expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 2, n: 3, s: 'y', tags: ['x', 'z'] });
      });

      it('matches no fenced document, placeholder or tombstone', async function () {
        await store.insert(doc('a', 1));
        await store.fence([{ id: 'a', h: 1 }, { id: 'p', h: 2 }], 3);
        await store.tombstone('t', 4, 2);
        for (const id of ['a', 'p', 't']) {
          expect(await store.updateOne({ _id: id }, { $set: { x: 1 } })).to.deep.include({ matched: 0, modified: 0 });
        }
        expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 1, _moved: 3 });
      });

      context('when upserting', function () {
        it('inserts with _v 1, the filter equality fields and $setOnInsert', async function () {
          const out = await store.updateOne({ _id: 'u' }, { $set: { a: 1 }, $setOnInsert: { _h: 9 } }, { upsert: true });
          expect(out.matched).to.equal(0);
          expect(out.upsertedId).to.equal('u');
          expect(await store.get('u')).to.deep.equal({ _id: 'u', _h: 9, _v: 1, a: 1 });
          const again = await store.updateOne({ _id: 'u' }, { $set: { a: 2 }, $setOnInsert: { _h: 9 } }, { upsert: true });
          expect(again).to.deep.include({ matched: 1, modified: 1 });
          expect(await store.get('u')).to.deep.equal({ _id: 'u', _h: 9, _v: 2, a: 2 });
        });

        it('fails with duplicateKey on a fenced key, so a stale router is turned away', async function () {
          await store.insert(doc('a', 1));
          await store.fence([{ id: 'a', h: 1 }, { id: 'p', h: 1 }], 2);
          for (const id of ['a', 'p']) {
            await expectStoreError(store.updateOne({ _id: id }, { $set: { x: 1 }, $setOnInsert: { _h: 1 } }, { upsert: true }), ErrorCode.storeDuplicateKey, shardId);
          }
        });
      });

      it('rejects updates that touch _id, _v or a marker, or that are not operator documents', async function () {
        await store.insert(doc('a', 1));
        await expectMisuse(store.updateOne({ _id: 'a' }, { $set: { _v: 5 } }));
        await expectMisuse(store.updateOne({ _id: 'a' }, { $set: { _id: 'b' } }));
        await expectMisuse(store.updateOne({ _id: 'a' }, { $unset: { _moved: '' } }));
        await expectMisuse(store.updateOne({ _id: 'a' }, { x: 1 } as never));
        expect(await store.get('a')).to.deep.equal(doc('a', 1));
      });

      if (options.pipelineUpdates) {
        it('applies a pipeline update and bumps _v', async function () {
          await store.insert(doc('a', 1, { n: 2 }));
          await store.updateOne({ _id: 'a' }, [{ $set: { m: { $add: ['$n', 1] } } }]);
          expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 2, n: 2, m: 3 });
        });
      } else {
        it('fails loudly on a pipeline update the server does not support', async function () {
          await store.insert(doc('a', 1, { n: 2 }));
          try {
            await store.updateOne({ _id: 'a' }, [{ $set: { m: { $add: ['$n', 1] } } }]);
            expect.fail('expected a store error');
          } catch (error) {
            expect(error).to.be.instanceOf(ShardkitStoreError);
          }
          expect(await store.get('a')).to.deep.equal(doc('a', 1, { n: 2 }));
        });
      }
    });

    describe('#replaceOne', function () {
      it('replaces a live document and sets _v to the replaced version + 1', async function () {
        await store.insert(doc('a', 1, { _v: 4, old: true }));
        const out = await store.replaceOne({ _id: 'a' }, { _id: 'a', _h: 1, _v: 999, fresh: 1 });
        expect(out).to.deep.include({ matched: 1, modified: 1 });
        expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 5, fresh: 1 });
      });

      it('matches no fenced document and upserts with _v 1', async function () {
        await store.insert(doc('a', 1));
        await store.fence([{ id: 'a', h: 1 }], 2);
        expect(await store.replaceOne({ _id: 'a' }, doc('a', 1, { x: 1 }))).to.deep.include({ matched: 0 });
        await expectStoreError(store.replaceOne({ _id: 'a' }, doc('a', 1), { upsert: true }), ErrorCode.storeDuplicateKey, shardId);
        const out = await store.replaceOne({ _id: 'n' }, { _id: 'n', _h: 3, _v: 50, y: 2 }, { upsert: true });
        expect(out.upsertedId).to.equal('n');
        expect(await store.get('n')).to.deep.equal({ _id: 'n', _h: 3, _v: 1, y: 2 });
      });

      it('refuses to change _id', async function () {
        await store.insert(doc('a', 1));
        await expectStoreError(store.replaceOne({ _id: 'a' }, doc('b', 1)), ErrorCode.storeFailure, shardId);
        expect(await store.get('b')).to.equal(null);
      });

      it('rejects a replacement carrying a marker', async function () {
        await store.insert(doc('a', 1));
        await expectMisuse(store.replaceOne({ _id: 'a' }, doc('a', 1, { _moved: 3 })));
      });
    });

    describe('#deleteOne', function () {
      it('deletes one live document and leaves markers alone', async function () {
        await store.insert(doc('a', 1));
        await store.insert(doc('b', 1));
        await store.fence([{ id: 'b', h: 1 }], 2);
        await store.tombstone('t', 1, 1);
        expect(await store.deleteOne({ _id: 'a' })).to.equal(1);
        expect(await store.deleteOne({ _id: 'a' })).to.equal(0);
        expect(await store.deleteOne({ _id: 'b' })).to.equal(0);
        expect(await store.deleteOne({ _id: 't' })).to.equal(0);
        expect(ids(await store.find({}, { sort: { _id: 1 } }))).to.deep.equal(['sb', 'st']);
      });
    });

    describe('#find', function () {
      beforeEach(async function () {
        for (let i = 0; i < 6; i++) await store.insert(doc(`k${i}`, 100 - i, { n: i, even: i % 2 === 0 }));
        await store.fence([{ id: 'k5', h: 95 }], 2);
      });

      it('filters, sorts, skips, limits and projects, markers included', async function () {
        const got = await store.find({ even: true }, { sort: { n: -1 }, projection: { n: 1 } });
        expect(got).to.deep.equal([{ _id: 'k4', n: 4 }, { _id: 'k2', n: 2 }, { _id: 'k0', n: 0 }]);
        const page = await store.find({}, { sort: { _h: 1 }, skip: 1, limit: 2 });
        expect(ids(page)).to.deep.equal(['sk4', 'sk3']);
        expect((await store.find({ _id: 'k5' }))[0]?._moved).to.equal(2);
        expect(ids(await store.find({ _id: { $in: ['k1', 'nope', 'k3'] } }, { sort: { _id: 1 } }))).to.deep.equal(['sk1', 'sk3']);
      });

      it('counts raw matches', async function () {
        expect(await store.count({})).to.equal(6);
        expect(await store.count({ _moved: { $exists: false } })).to.equal(5);
        expect(await store.count({ n: { $gte: 3 } })).to.equal(3);
      });
    });

    describe('#findBatches', function () {
      beforeEach(async function () {
        for (let i = 0; i < 7; i++) await store.insert(doc(`k${i}`, 100 - i, { n: i % 3, even: i % 2 === 0 }));
        await store.fence([{ id: 'k6', h: 94 }], 2);
      });

      async function drain(cursor: ReturnType<ShardStore['findBatches']>): Promise<StoredDocument[][]> {
        const batches: StoredDocument[][] = [];
        for (;;) {
          const r = await cursor.next();
          if (r.done === true) return batches;
          batches.push(r.value);
        }
      }

      it('reads the same documents as find, in batches of at most batchSize, markers included', async function () {
        const query = { sort: { n: 1, _id: 1 }, skip: 1, limit: 5, projection: { n: 1, _moved: 1 } } as const;
        const batches = await drain(store.findBatches({}, { ...query, batchSize: 2 }));
        expect(batches.map((b) => b.length)).to.deep.equal([2, 2, 1]);
        expect(batches.flat()).to.deep.equal(await store.find({}, query));
        expect(batches.flat().some((d) => d._moved === 2)).to.equal(true);
      });

      it('ends with done, and stays done, once the query is exhausted', async function () {
        const cursor = store.findBatches({ even: true }, { sort: { _id: 1 }, batchSize: 10 });
        expect(ids((await cursor.next()).value ?? [])).to.deep.equal(['sk0', 'sk2', 'sk4', 'sk6']);
        expect((await cursor.next()).done).to.equal(true);
        expect((await cursor.next()).done).to.equal(true);
        expect((await drain(store.findBatches({ n: 99 }, { batchSize: 3 }))).length).to.equal(0);
      });

      it('reads nothing more once closed', async function () {
        const cursor = store.findBatches({}, { sort: { _id: 1 }, batchSize: 3 });
        expect(ids((await cursor.next()).value ?? [])).to.deep.equal(['sk0', 'sk1', 'sk2']);
        await cursor.close();
        await cursor.close();
        expect((await cursor.next()).done).to.equal(true);
      });

      it('refuses a batch size that is not a positive integer', function () {
        for (const batchSize of [0, -1, 1.5]) expect(() => store.findBatches({}, { batchSize })).to.throw(ShardkitInvalidArgumentError);
      });
    });

    describe('#bulkWrite', function () {
      it('applies every op it can, unordered, and reports errors by index', async function () {
        await store.insert(doc('a', 1));
        await store.insert(doc('b', 1));
        await store.fence([{ id: 'f', h: 1 }], 2);
        const res = await store.bulkWrite([
          { insertOne: { document: doc('a', 1) } },
          { insertOne: { document: doc('c', 2) } },
          { updateOne: { filter: { _id: 'a' }, update: { $set: { x: 1 } } } },
          { replaceOne: { filter: { _id: 'b' }, replacement: doc('b', 1, { y: 1 }) } },
          { deleteOne: { filter: { _id: 'c' } } },
          { updateOne: { filter: { _id: 'f' }, update: { $set: { x: 1 }, $setOnInsert: { _h: 1 } }, upsert: true } },
          { updateOne: { filter: { _id: 'u' }, update: { $set: { x: 1 }, $setOnInsert: { _h: 3 } }, upsert: true } },
        ]);
        expect(res.inserted).to.equal(1);
        expect(res.matched).to.equal(2);
        expect(res.modified).to.equal(2);
        expect(res.upserted).to.equal(1);
        expect(res.errors.map((e) => e.index).sort()).to.deep.equal([0, 5]);
        for (const { error } of res.errors) {
          expect(error).to.be.instanceOf(ShardkitStoreError);
          expect((error as ShardkitError).code).to.equal(ErrorCode.storeDuplicateKey);
        }
        expect(await store.get('a')).to.deep.equal(doc('a', 1, { _v: 2, x: 1 }));
        expect(await store.get('b')).to.deep.equal(doc('b', 1, { _v: 2, y: 1 }));
        expect(await store.get('u')).to.deep.equal(doc('u', 3, { x: 1 }));
        expect(res.deleted + (await store.count({ _id: 'c' }))).to.equal(1);
        const none = { matched: 0, modified: 0, deleted: 0, upserted: 0, inserted: 0 };
        expect(res.results).to.have.length(7);
        expect(res.results[0]).to.deep.equal(none);
        expect(res.results[1]).to.deep.equal({ ...none, inserted: 1 });
        expect(res.results[2]).to.deep.equal({ ...none, matched: 1, modified: 1 });
        expect(res.results[3]).to.deep.equal({ ...none, matched: 1, modified: 1 });
        // The delete of c races the insert of c inside one unordered bulk: either order is allowed.
        expect(res.results[4]).to.deep.equal({ ...none, deleted: res.deleted });
        expect(res.results[5]).to.deep.equal(none);
        expect(res.results[6]).to.deep.equal({ ...none, upserted: 1 });
      });

      it('tells, per op, which conditional writes matched and which a fence or a miss turned away', async function () {
        await store.insert(doc('a', 1, { n: 1 }));
        await store.insert(doc('f', 1, { n: 1 }));
        await store.fence([{ id: 'f', h: 1 }], 2);
        const res = await store.bulkWrite([
          { updateOne: { filter: { _id: 'f' }, update: { $inc: { n: 1 } } } },
          { updateOne: { filter: { _id: 'a' }, update: { $inc: { n: 1 } } } },
          { deleteOne: { filter: { _id: 'f' } } },
          { updateOne: { filter: { _id: 'a', n: 99 }, update: { $inc: { n: 1 } } } },
          { replaceOne: { filter: { _id: 'f' }, replacement: doc('f', 1, { n: 5 }) } },
        ]);
        const none = { matched: 0, modified: 0, deleted: 0, upserted: 0, inserted: 0 };
        expect(res.errors).to.deep.equal([]);
        expect(res.results).to.deep.equal([none, { ...none, matched: 1, modified: 1 }, none, none, none]);
        expect(await store.get('a')).to.deep.equal(doc('a', 1, { _v: 2, n: 2 }));
        expect(await store.get('f')).to.deep.equal(doc('f', 1, { n: 1, _moved: 2 }));
      });

      it('rejects a bulk with a misused op before applying anything', async function () {
        await expectMisuse(store.bulkWrite([{ insertOne: { document: doc('a', 1) } }, { updateOne: { filter: { _id: 'a' }, update: { $set: { _v: 3 } } } }]));
        expect(await store.get('a')).to.equal(null);
      });
    });

    describe('#estimatedDocumentCount', function () {
      it('counts every entry held, markers included, without a filter', async function () {
        expect(await store.estimatedDocumentCount()).to.equal(0);
        await store.insertIfAbsent([doc('a', 1), doc('b', 2), doc('c', 3)]);
        await store.fence([{ id: 'a', h: 1 }, { id: 'ph', h: 4 }], 2);
        await store.tombstone('t', 5, 1);
        expect(await store.estimatedDocumentCount()).to.equal(5);
      });
    });

    describe('#fence', function () {
      it('fences existing documents and leaves placeholders for absent keys, keeping versions', async function () {
        await store.insert(doc('a', 1, { _v: 3, x: 1 }));
        const out = await store.fence([{ id: 'p', h: 2 }, { id: 'a', h: 1 }], 7);
        expect(out.map(promoted)).to.deep.equal([
          { _id: 'p', _h: 2, _v: 0, _moved: 7, _ph: true },
          { _id: 'a', _h: 1, _v: 3, x: 1, _moved: 7 },
        ]);
      });

      it('is idempotent and keeps the first fence epoch', async function () {
        await store.insert(doc('a', 1));
        await store.fence([{ id: 'a', h: 1 }], 7);
        const again = await store.fence([{ id: 'a', h: 1 }, { id: 'a', h: 1 }], 9);
        expect(again.map((d) => d._moved)).to.deep.equal([7, 7]);
        expect(await store.count({})).to.equal(1);
      });

      it('fences a tombstone too', async function () {
        await store.tombstone('t', 1, 2);
        const [t] = await store.fence([{ id: 't', h: 1 }], 4);
        expect(t).to.deep.equal({ _id: 't', _h: 1, _v: 2, _ts: true, _moved: 4 });
      });
    });

    // Ids of several BSON types on one point: 42 and "42" hash alike, so mixed types do share a point.
    const mixed = async (): Promise<void> => {
      await store.insertIfAbsent([
        doc(new ObjectId('0000000000000000000000aa'), 5),
        doc('42', 5),
        doc(new Uint8Array([9]), 5),
        doc(42, 5),
        doc('a', 5),
        doc(7, 5),
        doc('z', 4),
        doc('y', 6),
      ]);
    };
    const mixedOrder = ['sz', 'n7', 'n42', 's42', 'sa', 'b0:09', 'o0000000000000000000000aa', 'sy'];

    describe('#scanRange', function () {
      it('returns (_h, _id) order with MongoDB type order: numbers < strings < binary < ObjectId', async function () {
        await mixed();
        expect(ids(await store.scanRange({ start: -1, end: 0xffffffff }, null, 100))).to.deep.equal(mixedOrder);
      });

      it('resumes after a cursor without skipping or repeating, across types on one point', async function () {
        await mixed();
        const seen: StoredDocument[] = [];
        let after = null;
        for (;;) {
          const page: StoredDocument[] = await store.scanRange({ start: 3, end: 6 }, after, 2);
          if (page.length === 0) break;
          seen.push(...page);
          const last = page[page.length - 1] as StoredDocument;
          after = { h: last._h, id: last._id };
        }
        expect(ids(seen)).to.deep.equal(mixedOrder);
      });

      it('includes end, excludes start, and reaches both ends of the ring', async function () {
        await store.insertIfAbsent([doc('lo', 0), doc('mid', 10), doc('hi', 0xffffffff), doc('edge', 20)]);
        expect(ids(await store.scanRange({ start: -1, end: 10 }, null, 10))).to.deep.equal(['slo', 'smid']);
        expect(ids(await store.scanRange({ start: 10, end: 0xffffffff }, null, 10))).to.deep.equal(['sedge', 'shi']);
        expect(ids(await store.scanRange({ start: 0, end: 20 }, null, 10, { _id: 'edge' }))).to.deep.equal(['sedge']);
      });

      it('pages any set of documents exactly once, in order', async function () {
        const idArb = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom('a', 'b', '1', ''), fc.constantFrom(new Uint8Array([1]), new Uint8Array([0, 1])));
        await fc.assert(
          fc.asyncProperty(fc.array(fc.tuple(idArb, fc.integer({ min: 0, max: 3 })), { maxLength: 20 }), fc.integer({ min: 1, max: 5 }), async (entries, limit) => {
            const s = await options.create('shard-p');
            try {
              await s.insertIfAbsent(entries.map(([id, h]) => doc(id, h)));
              const all = await s.scanRange({ start: -1, end: 3 }, null, 1000);
              const paged: StoredDocument[] = [];
              let after = null;
              for (;;) {
                const page: StoredDocument[] = await s.scanRange({ start: -1, end: 3 }, after, limit);
                if (page.length === 0) break;
                paged.push(...page);
                const last = page[page.length - 1] as StoredDocument;
                after = { h: last._h, id: last._id };
              }
              expect(ids(paged)).to.deep.equal(ids(all));
              expect(new Set(ids(all)).size).to.equal(all.length);
              for (let i = 1; i < all.length; i++) expect((all[i] as StoredDocument)._h).to.be.at.least((all[i - 1] as StoredDocument)._h);
            } finally {
              await s.close();
            }
          }),
          { numRuns: options.propertyRuns ?? 40 },
        );
      });

      it('rejects bad ranges and limits as misuse', async function () {
        await expectMisuse(store.scanRange({ start: 5, end: 5 }, null, 1));
        await expectMisuse(store.scanRange({ start: -2, end: 5 }, null, 1));
        await expectMisuse(store.scanRange({ start: 0, end: 2 ** 32 }, null, 1));
        await expectMisuse(store.scanRange({ start: 0, end: 5 }, null, 0));
      });
    });

    describe('#fenceRange', function () {
      it('fences up to limit unfenced documents in order, skipping fenced ones, and resumes', async function () {
        await mixed();
        await store.fence([{ id: 42, h: 5 }], 3);
        const first = await store.fenceRange({ start: 4, end: 5 }, null, 3, 8);
        expect(ids(first)).to.deep.equal(['n7', 's42', 'sa']);
        expect(first.every((d) => d._moved === 8)).to.equal(true);
        const last = first[2] as StoredDocument;
        const rest = await store.fenceRange({ start: 4, end: 5 }, { h: last._h, id: last._id }, 10, 8);
        expect(ids(rest)).to.deep.equal(['b0:09', 'o0000000000000000000000aa']);
        expect(await store.fenceRange({ start: 4, end: 5 }, null, 10, 8)).to.deep.equal([]);
        expect((await store.get(42))?._moved).to.equal(3);
        expect((await store.get('z'))?._moved).to.equal(undefined);
      });
    });

    describe('#unfencedKeys', function () {
      it('lists the keys of unfenced entries of several spans in one (_h, _id) order, each span after its own cursor', async function () {
        await mixed();
        await store.insertIfAbsent([doc('lo', 1), doc('mid', 2), doc('hi', 9)]);
        await store.fence([{ id: 42, h: 5 }], 3);
        await store.tombstone('mid', 2, 2);
        const spans = [
          { range: { start: 0, end: 2 }, after: null },
          { range: { start: 4, end: 5 }, after: { h: 5, id: 7 } },
          { range: { start: 8, end: 9 }, after: null },
        ];
        const keys = await store.unfencedKeys(spans, 100);
        // 42 is fenced; 7 is before the span's cursor; 'z' (h 4) and 'y' (h 6) lie outside every span.
        expect(ids(keys as StoredDocument[])).to.deep.equal(['slo', 'smid', 's42', 'sa', 'b0:09', 'o0000000000000000000000aa', 'shi']);
        expect(keys.every((k) => Object.keys(k).sort().join() === '_h,_id'), 'keys only, no bodies').to.equal(true);
        expect(ids((await store.unfencedKeys(spans, 3)) as StoredDocument[])).to.deep.equal(['slo', 'smid', 's42']);
        expect(await store.unfencedKeys([], 10)).to.deep.equal([]);
        await expectMisuse(store.unfencedKeys([{ range: { start: 5, end: 5 }, after: null }], 1));
        await expectMisuse(store.unfencedKeys(spans, 0));
      });
    });

    describe('#spanKeys', function () {
      it('lists the keys of the entries matching a filter in several spans, in one (_h, _id) order, each after its own cursor', async function () {
        await mixed();
        await store.insertIfAbsent([doc('lo', 1), doc('mid', 2), doc('hi', 9)]);
        await store.fence([{ id: 42, h: 5 }, { id: 'lo', h: 1 }, { id: 'hi', h: 9 }], 3);
        const spans = [
          { range: { start: 0, end: 2 }, after: null },
          { range: { start: 4, end: 5 }, after: { h: 5, id: 7 } },
          { range: { start: 8, end: 9 }, after: null },
        ];
        const fenced = { _moved: { $exists: true } };
        // Fenced: 'lo', 42 (after the span's cursor 7 in BSON order) and 'hi'; nothing else matches.
        const keys = await store.spanKeys(spans, 100, fenced);
        expect(ids(keys as StoredDocument[])).to.deep.equal(['slo', 'n42', 'shi']);
        expect(keys.every((k) => Object.keys(k).sort().join() === '_h,_id'), 'keys only, no bodies').to.equal(true);
        expect(ids((await store.spanKeys(spans, 2, fenced)) as StoredDocument[])).to.deep.equal(['slo', 'n42']);
        expect(await store.spanKeys(spans, 10, { _moved: 99 })).to.deep.equal([]);
        expect(await store.spanKeys([], 10, fenced)).to.deep.equal([]);
        await expectMisuse(store.spanKeys(spans, 0, fenced));
      });
    });

    describe('#checksumRanges', function () {
      it('answers per range, in the order given, what checksumRange answers for each', async function () {
        await store.insertIfAbsent([doc('a', 1), doc(2, 2, { _v: 3 }), doc(new Uint8Array([1]), 3), doc('x', 9), doc('y', 12)]);
        const ranges = [
          { start: 8, end: 10 },
          { start: 0, end: 5 },
          { start: 20, end: 30 },
        ];
        const sums = await store.checksumRanges(ranges, { _h: { $ne: 3 } });
        expect(sums).to.deep.equal(await Promise.all(ranges.map((r) => store.checksumRange(r, { _h: { $ne: 3 } }))));
        expect(sums.map((s) => s.count)).to.deep.equal([1, 2, 0]);
        expect(await store.checksumRanges([])).to.deep.equal([]);
      });
    });

    describe('#deleteIds', function () {
      it('deletes the entries among the ids that match the filter, by _id', async function () {
        await store.insertIfAbsent([doc('a', 1), doc('b', 2), doc('c', 3), doc('d', 9)]);
        await store.fence([{ id: 'a', h: 1 }, { id: 'b', h: 2 }, { id: 'd', h: 9 }], 2);
        const moved = { _moved: { $exists: true } };
        // 'c' is not fenced and stays; 'absent' is nothing.
        expect(await store.deleteIds(['a', 'c', 'd', 'absent'], moved)).to.equal(2);
        expect(ids(await store.find({}))).to.deep.equal(['sb', 'sc']);
        expect(await store.deleteIds(['a', 'd'], moved), 'idempotent').to.equal(0);
        expect(await store.deleteIds([], moved)).to.equal(0);
      });
    });

    describe('#fenceIds', function () {
      it('fences the unfenced entries of the ids and returns every one fenced at the epoch, bodies included, no placeholder for an absent id', async function () {
        await mixed();
        await store.fence([{ id: 42, h: 5 }], 3);
        await store.fence([{ id: 'a', h: 5 }], 8);
        const got = await store.fenceIds(['z', 42, 'a', 'absent', 7], 8);
        // 42 stays fenced at 3 and is not returned; 'a' was fenced at 8 before and is; 'absent' stays absent.
        expect(ids(got)).to.deep.equal(['sz', 'n7', 'sa']);
        expect(got.every((d) => d._moved === 8)).to.equal(true);
        expect(got[0], 'the whole entry').to.deep.equal({ _id: 'z', _h: 4, _v: 1, _moved: 8 });
        expect((await store.get(42))?._moved).to.equal(3);
        expect(await store.get('absent')).to.equal(null);
        expect(ids(await store.fenceIds(['z', 7], 8)), 'idempotent').to.deep.equal(['sz', 'n7']);
        expect(await store.fenceIds([], 8)).to.deep.equal([]);
        await expectMisuse(store.fenceIds(['z'], 0));
      });
    });

    describe('#countRanges', function () {
      it('counts each range, in the order given, as countRange would, with or without the index', async function () {
        await mixed();
        await store.insertIfAbsent([doc('lo', 1), doc('hi', 9)]);
        await store.fence([{ id: 'a', h: 5 }], 2);
        const ranges = [
          { start: 8, end: 9 },
          { start: 0, end: 4 },
          { start: 4, end: 5 },
        ];
        const live = { _moved: { $exists: false } };
        const { counts, indexed } = await store.countRanges(ranges, live);
        expect(counts).to.deep.equal([1, 2, 5]);
        expect(counts).to.deep.equal(await Promise.all(ranges.map((r) => store.countRange(r, live))));
        expect(indexed).to.be.a('boolean');
        expect((await store.countRanges([])).counts).to.deep.equal([]);
      });
    });

    describe('#tallyRanges', function () {
      it('answers each count and checksum as countRanges and checksumRanges would, protocol filters and others alike', async function () {
        await mixed();
        await store.insertIfAbsent([doc('lo', 1), doc('hi', 9, { a: 1 }), doc('t', 4, { _ts: true })]);
        await store.fence([{ id: 'a', h: 5 }], 2);
        const ranges = [
          { start: 8, end: 9 },
          { start: 0, end: 4 },
          { start: 4, end: 5 },
        ];
        const live = { _moved: { $exists: false }, _ts: { $exists: false } };
        const fenced = { _moved: 2 };
        const marked = { $or: [{ _moved: { $exists: true } }, { _ts: true }] };
        // Protocol filters: the figures of one pass.
        const tally = await store.tallyRanges(ranges, { counts: [live, marked], checksums: [fenced, {}] });
        expect(tally.counts).to.deep.equal([(await store.countRanges(ranges, live)).counts, (await store.countRanges(ranges, marked)).counts]);
        expect(tally.checksums).to.deep.equal([await store.checksumRanges(ranges, fenced), await store.checksumRanges(ranges)]);
        expect(tally.counts[1]!.reduce((a, b) => a + b), 'the fence and the tombstone').to.equal(2);
        expect(tally.checksums[0]!.map((s) => s.count)).to.deep.equal([0, 0, 1]);
        // A filter on an application field as well.
        const mixedFilters = await store.tallyRanges(ranges, { counts: [{ a: 1 }], checksums: [live] });
        expect(mixedFilters.counts).to.deep.equal([(await store.countRanges(ranges, { a: 1 })).counts]);
        expect(mixedFilters.counts[0]![0], 'hi').to.equal(1);
        expect(mixedFilters.checksums).to.deep.equal([await store.checksumRanges(ranges, live)]);
        expect(await store.tallyRanges(ranges, {})).to.deep.equal({ counts: [], checksums: [] });
        expect(await store.tallyRanges([], { counts: [live], checksums: [live] })).to.deep.equal({ counts: [[]], checksums: [[]] });
        await expectMisuse(store.tallyRanges([{ start: 5, end: 4 }], { counts: [live] }));
      });
    });

    describe('#countRange', function () {
      it('counts documents in the range, optionally filtered', async function () {
        await mixed();
        await store.fence([{ id: 'a', h: 5 }], 2);
        expect(await store.countRange({ start: 4, end: 5 })).to.equal(6);
        expect(await store.countRange({ start: 4, end: 5 }, { _moved: { $exists: true } })).to.equal(1);
        expect(await store.countRange({ start: 6, end: 100 })).to.equal(0);
      });
    });

    describe('#checksumRange', function () {
      it('is equal for equal (_id, _v) sets in any insertion order and changes with any version', async function () {
        const other = await options.create('shard-c2');
        try {
          const docs = [doc('a', 1), doc(2, 2, { _v: 3 }), doc(new Uint8Array([1]), 3), doc('x', 9)];
          await store.insertIfAbsent(docs);
          await other.insertIfAbsent([...docs].reverse());
          const range = { start: 0, end: 5 };
          const a = await store.checksumRange(range);
          expect(a.count).to.equal(3);
          expect(a.checksum).to.match(/^[0-9a-f]{16}$/);
          expect(await other.checksumRange(range)).to.deep.equal(a);
          await other.updateOne({ _id: 'a' }, { $set: { y: 1 } });
          expect((await other.checksumRange(range)).checksum).to.not.equal(a.checksum);
          expect((await store.checksumRange(range, { _h: { $gte: 2 } })).count).to.equal(2);
        } finally {
          await other.close();
        }
      });
    });

    describe('#deleteRange', function () {
      it('deletes up to limit matching documents in the range', async function () {
        await store.insertIfAbsent([doc('a', 1), doc('b', 2), doc('c', 3), doc('d', 9)]);
        await store.fence([{ id: 'a', h: 1 }, { id: 'b', h: 2 }, { id: 'c', h: 3 }, { id: 'd', h: 9 }], 2);
        const moved = { _moved: { $exists: true } };
        expect(await store.deleteRange({ start: 0, end: 5 }, moved, 2)).to.equal(2);
        expect(await store.deleteRange({ start: 0, end: 5 }, moved, 10)).to.equal(1);
        expect(ids(await store.find({}))).to.deep.equal(['sd']);
      });
    });

    describe('#tombstone', function () {
      it('replaces a live document unless it is fenced', async function () {
        await store.insert(doc('a', 1, { x: 1 }));
        await store.insert(doc('f', 1));
        await store.fence([{ id: 'f', h: 1 }], 2);
        expect(await store.tombstone('a', 1, 2)).to.equal(true);
        expect(await store.tombstone('f', 1, 2)).to.equal(false);
        expect(await store.tombstone('new', 1, 1)).to.equal(true);
        expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 2, _ts: true });
        expect(await store.get('f')).to.deep.equal({ _id: 'f', _h: 1, _v: 1, _moved: 2 });
        expect(await store.get('new')).to.deep.equal({ _id: 'new', _h: 1, _v: 1, _ts: true });
      });

      it('with an expected version replaces only the live document of that version', async function () {
        await store.insert(doc('a', 1, { _v: 3, x: 1 }));
        await store.insert(doc('f', 1, { _v: 3 }));
        await store.fence([{ id: 'f', h: 1 }], 2);
        await store.tombstone('t', 1, 3);
        await store.fence([{ id: 'ph', h: 1 }], 2);
        expect(await store.tombstone('a', 1, 3, 2), 'another version').to.equal(false);
        expect(await store.get('a')).to.deep.equal(doc('a', 1, { _v: 3, x: 1 }));
        for (const id of ['f', 't', 'ph', 'none']) expect(await store.tombstone(id, 1, 4, 3), id).to.equal(false);
        expect(await store.get('none'), 'nothing is written for an absent id').to.equal(null);
        expect(await store.get('t')).to.deep.equal({ _id: 't', _h: 1, _v: 3, _ts: true });
        expect(await store.tombstone('a', 1, 4, 3)).to.equal(true);
        expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 4, _ts: true });
      });

      it('with an expected version lets exactly one of a racing update and delete win', async function () {
        for (let i = 0; i < 8; i++) {
          const id = `r${i}`;
          await store.insert(doc(id, 1, { _v: 1, x: 0 }));
          const [updated, deleted] = await Promise.all([store.updateOne({ _id: id }, { $set: { x: 1 } }), store.tombstone(id, 1, 2, 1)]);
          const stored = await store.get(id);
          if (deleted) {
            expect(updated.matched, `round ${i}: the delete won, the update came after`).to.equal(0);
            expect(stored).to.deep.equal({ _id: id, _h: 1, _v: 2, _ts: true });
          } else {
            expect(updated.matched, `round ${i}: the update won`).to.equal(1);
            expect(stored).to.deep.equal(doc(id, 1, { _v: 2, x: 1 }));
          }
        }
      });
    });

    describe('#replaceTombstone', function () {
      it('replaces an unfenced tombstone with the document as given', async function () {
        await store.insert(doc('a', 1, { x: 1 }));
        expect(await store.tombstone('a', 1, 2)).to.equal(true);
        expect(await store.replaceTombstone(doc('a', 1, { _v: 3, y: 2 }))).to.equal(true);
        expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 3, y: 2 });
      });

      it('writes nothing and answers false over a live document, a fence, a fenced tombstone or nothing', async function () {
        await store.insert(doc('live', 1, { x: 1 }));
        await store.insert(doc('f', 1));
        await store.fence([{ id: 'f', h: 1 }], 2);
        await store.fence([{ id: 'ph', h: 1 }], 2);
        expect(await store.tombstone('ft', 1, 2)).to.equal(true);
        await store.fence([{ id: 'ft', h: 1 }], 3);
        for (const id of ['live', 'f', 'ph', 'ft', 'none']) {
          expect(await store.replaceTombstone(doc(id, 1, { _v: 9, z: 1 })), id).to.equal(false);
        }
        expect(await store.get('live')).to.deep.equal(doc('live', 1, { x: 1 }));
        expect(await store.get('f')).to.deep.equal(doc('f', 1, { _moved: 2 }));
        expect(await store.get('ph')).to.deep.equal({ _id: 'ph', _h: 1, _v: 0, _moved: 2, _ph: true });
        expect(await store.get('ft')).to.deep.equal({ _id: 'ft', _h: 1, _v: 2, _ts: true, _moved: 3 });
        expect(await store.get('none')).to.equal(null);
      });

      it('lets exactly one of two concurrent replacements win', async function () {
        await store.tombstone('a', 1, 2);
        const answers = await Promise.all([store.replaceTombstone(doc('a', 1, { _v: 3, w: 1 })), store.replaceTombstone(doc('a', 1, { _v: 3, w: 2 }))]);
        expect(answers.filter(Boolean)).to.have.length(1);
        expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 3, w: answers[0] === true ? 1 : 2 });
      });

      it('refuses a document without a valid _h as misuse', async function () {
        await store.tombstone('a', 1, 2);
        await expectMisuse(store.replaceTombstone({ _id: 'a', _v: 3 } as unknown as StoredDocument));
        expect(await store.get('a')).to.deep.equal({ _id: 'a', _h: 1, _v: 2, _ts: true });
      });
    });

    // The migration protocol needs every single-document write to be atomic against a fence: a
    // conditional write either lands before the fence (and the fence carries it) or is turned away.
    // Stock FerretDB 1.x fails these (it queries, then writes by _id); the test servers are patched.
    describe('a write racing a fence of the same document', function () {
      const ROUNDS = 12;
      /** Start `write` 0..5 ms after the fence, so that across rounds it meets each step of the fence. */
      const later = <R>(i: number, write: () => Promise<R>): Promise<R> => new Promise((resolve) => setTimeout(resolve, i % 6)).then(write);

      it('a conditional delete and a fence: exactly one takes effect, every round', async function () {
        for (let i = 0; i < ROUNDS; i++) {
          const id = `d${i}`;
          await store.insert(doc(id, 1, { x: i }));
          const [deleted, [exact]] = await Promise.all([later(i, () => store.deleteOne({ _id: id })), store.fence([{ id, h: 1 }], 2)]);
          const fenced = promoted(exact);
          const stored = await store.get(id);
          if (deleted === 1) {
            expect(fenced, `round ${i}: the delete won, so the fence found nothing`).to.deep.equal({ _id: id, _h: 1, _v: 0, _moved: 2, _ph: true });
          } else {
            expect(deleted, `round ${i}`).to.equal(0);
            expect(fenced, `round ${i}: the fence won and holds the document`).to.deep.equal(doc(id, 1, { x: i, _moved: 2 }));
          }
          expect(stored, `round ${i}: the store holds what the fence returned`).to.deep.equal(fenced);
        }
      });

      it('a conditional update and a fence: the update lands before the fence or not at all, every round', async function () {
        for (let i = 0; i < ROUNDS; i++) {
          const id = `u${i}`;
          await store.insert(doc(id, 1, { x: i }));
          const [updated, [exact]] = await Promise.all([later(i, () => store.updateOne({ _id: id }, { $set: { y: i } })), store.fence([{ id, h: 1 }], 2)]);
          const fenced = promoted(exact);
          const stored = await store.get(id);
          expect(stored, `round ${i}: the store holds what the fence returned`).to.deep.equal(fenced);
          if (updated.matched === 1) expect(stored, `round ${i}: the update won`).to.deep.equal(doc(id, 1, { _v: 2, x: i, y: i, _moved: 2 }));
          else expect(stored, `round ${i}: the fence won`).to.deep.equal(doc(id, 1, { x: i, _moved: 2 }));
        }
      });
    });

    describe('#get', function () {
      it('returns null for an absent id and round-trips binary and ObjectId ids', async function () {
        expect(await store.get('nope')).to.equal(null);
        const oid = new ObjectId();
        await store.insert(doc(oid, 1));
        await store.insert(doc(new Uint8Array([1, 2]), 1));
        expect(idKey((await store.get(new ObjectId(oid.toHexString())))?._id)).to.equal(idKey(oid));
        const bin = await store.get(new Binary(new Uint8Array([1, 2])));
        expect(bin?._id).to.be.instanceOf(Binary);
      });
    });
  });
}
