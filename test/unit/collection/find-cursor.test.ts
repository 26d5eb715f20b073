import { expect } from 'chai';
import fc from 'fast-check';
import type { Document } from 'mongodb';
import { copyForTarget } from '../../../src/collection/documents.js';
import type { FindCursor } from '../../../src/collection/find-cursor.js';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ErrorCode, ShardkitInvalidArgumentError } from '../../../src/errors.js';
import { ShardRouter } from '../../../src/router/router.js';
import type { RoutingSource } from '../../../src/router/routing-source.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { StoredDocument } from '../../../src/stores/shard-store.js';
import { rejection } from '../../support/rejection.js';
import { committed, LaggingSource, migrating, SpyPool, stable, topology } from './support.js';

const IDS = ['s1', 's2', 's3', 's4'];

/** Every document of a cursor: the one place these tests read `find`, whatever it returns. */
async function read<T>(cursor: FindCursor<T>): Promise<T[]> {
  return cursor.toArray();
}

/** A routing source the test switches by hand, as a follower would after the config store changed. */
class SwitchSource implements RoutingSource {
  state: RoutingState;
  constructor(state: RoutingState) {
    this.state = state;
  }
  current(): RoutingState {
    return this.state;
  }
  async refresh(): Promise<RoutingState> {
    return this.state;
  }
}

/** Counts, per shard, the documents the shard stores handed to the router and the batched reads closed. */
function watchBatches(pool: SpyPool): { pulled: Map<string, number>; opened: () => number; closed: () => number } {
  const pulled = new Map<string, number>();
  let opened = 0;
  let closed = 0;
  for (const [id, store] of pool.stores) {
    const original = store.findBatches.bind(store);
    store.findBatches = (filter, options) => {
      opened++;
      const inner = original(filter, options);
      return {
        next: async () => {
          const r = await inner.next();
          if (r.done !== true) pulled.set(id, (pulled.get(id) ?? 0) + r.value.length);
          return r;
        },
        close: async () => {
          closed++;
          await inner.close();
        },
      };
    };
  }
  return { pulled, opened: () => opened, closed: () => closed };
}

async function setup(n: number, shape: (i: number) => Document = (i) => ({ g: i % 7, v: i })) {
  const t = topology(IDS);
  const pool = new SpyPool(IDS);
  const coll = new ShardedCollection({ name: 'c', routing: new StaticRoutingSource(stable(t)), pool });
  const reference = new MemoryStore('reference');
  const docs = Array.from({ length: n }, (_, i) => ({ _id: i, ...shape(i) }));
  await coll.insertMany(docs);
  for (const d of docs) await reference.insert({ ...d, _h: 0, _v: 1 });
  return { coll, pool, reference };
}

const clean = (docs: StoredDocument[]): Document[] => docs.map(({ _h, _v, ...rest }) => rest);

describe('FindCursor', () => {
  describe('the streaming merge', () => {
    it('equals one collection for any sort (ties broken by _id), skip, limit and batch size', async () => {
      const { coll, reference } = await setup(120, (i) => ({ g: i % 5, h: i % 3 === 0 ? null : i % 4 }));
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<Document>({ g: 1 }, { g: -1, h: 1 }, { h: -1 }, { _id: -1 }),
          fc.integer({ min: 0, max: 130 }),
          fc.integer({ min: 0, max: 40 }),
          fc.integer({ min: 1, max: 17 }),
          async (sort, skip, limit, batchSize) => {
            const expected = clean(await reference.find({}, { sort: { ...sort, _id: sort['_id'] ?? 1 }, skip, ...(limit > 0 ? { limit } : {}) }));
            expect(await read(coll.find({}, { sort, skip, limit, batchSize }))).to.deep.equal(expected);
            expect(await read(coll.find({}).sort(sort).skip(skip).limit(limit).batchSize(batchSize))).to.deep.equal(expected);
          },
        ),
        { numRuns: 40 },
      );
    });

    it('orders by _id when no sort is given', async () => {
      const { coll } = await setup(50);
      const ids = (await read(coll.find({ g: { $lt: 3 } }, { batchSize: 4 }))).map((d) => d['_id'] as number);
      expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
      expect(ids).to.have.length(50 - [3, 4, 5, 6].reduce((n, g) => n + Math.ceil((50 - g) / 7), 0));
    });

    it('holds at most batchSize documents per shard ahead of what it emitted', async () => {
      const { coll, pool } = await setup(400);
      const watch = watchBatches(pool);
      const cursor = coll.find({}, { sort: { v: -1 }, batchSize: 10 });
      let emitted = 0;
      for await (const _ of cursor) {
        emitted++;
        const pulled = [...watch.pulled.values()].reduce((a, b) => a + b, 0);
        expect(pulled - emitted, `after ${emitted}`).to.be.at.most(IDS.length * 10);
        for (const n of watch.pulled.values()) expect(n).to.be.at.most(emitted + 10);
      }
      expect(emitted).to.equal(400);
      expect(watch.opened()).to.equal(IDS.length);
    });

    it('pulls no more than skip + limit per shard, and stops reading once the limit is reached', async () => {
      const { coll, pool } = await setup(400);
      const watch = watchBatches(pool);
      expect((await read(coll.find({}, { sort: { v: 1 }, skip: 3, limit: 5, batchSize: 100 }))).map((d) => d['v'])).to.deep.equal([3, 4, 5, 6, 7]);
      for (const n of watch.pulled.values()) expect(n).to.be.at.most(8);
    });

    it('closes every shard cursor when the loop breaks early or close() is called', async () => {
      const { coll, pool } = await setup(200);
      const watch = watchBatches(pool);
      for await (const d of coll.find({}, { batchSize: 5 })) if (d['_id'] === 10) break;
      expect(watch.closed()).to.equal(IDS.length);
      const cursor = coll.find({}, { batchSize: 5 });
      expect(await cursor.next()).to.deep.equal({ _id: 0, g: 0, v: 0 });
      await cursor.close();
      expect(watch.closed()).to.equal(2 * IDS.length);
      expect(await cursor.next()).to.equal(null);
    });

    it('fails with the shard error when a shard fails mid-stream, and releases the other shards', async () => {
      const { coll, pool } = await setup(200);
      const watch = watchBatches(pool);
      const cursor = coll.find({}, { sort: { v: 1 }, batchSize: 5 });
      expect((await cursor.next())?.['v']).to.equal(0);
      pool.raw('s3').setOffline(true);
      const e = await rejection(cursor.toArray());
      expect(e.code).to.equal(ErrorCode.storeUnavailable);
      expect(e.shardId).to.equal('s3');
      expect(watch.closed()).to.equal(IDS.length);
    });

    it('reads past the pushed-down limit at a shard whose first documents were leftovers of a finished migration', async () => {
      const t = topology(IDS);
      const router = ShardRouter.fromTopology(t);
      const pool = new SpyPool(IDS);
      const coll = new ShardedCollection({ name: 'c', routing: new StaticRoutingSource(stable(t)), pool });
      const ids = Array.from({ length: 60 }, (_, i) => i);
      await coll.insertMany(ids.map((i) => ({ _id: i, v: router.route(i) === 's1' ? i - 1000 : i })));
      // Fenced copies at s1 of documents s2 owns, sorting first: dropped, so s1's first `limit` documents keep nothing.
      const foreign = ids.filter((i) => router.route(i) === 's2').slice(0, 6);
      for (const [k, i] of foreign.entries()) await pool.raw('s1').insert({ _id: i, v: -5000 + k, _h: router.point(i), _v: 1, _moved: 1 });
      const expected = ids.filter((i) => router.route(i) === 's1').slice(0, 3).map((i) => ({ _id: i, v: i - 1000 }));
      expect(await read(coll.find({}, { sort: { v: 1 }, limit: 3, batchSize: 2 }))).to.deep.equal(expected);
    });

    it('releases every shard cursor once the limit is reached, and findOne releases them at once', async () => {
      const { coll, pool } = await setup(100);
      const watch = watchBatches(pool);
      const cursor = coll.find({}, { sort: { v: 1 }, limit: 2, batchSize: 50 });
      expect(await cursor.next()).to.deep.equal({ _id: 0, g: 0, v: 0 });
      expect(await cursor.next()).to.deep.equal({ _id: 1, g: 1, v: 1 });
      expect(await cursor.next()).to.equal(null);
      expect(watch.closed()).to.equal(IDS.length);
      expect(await coll.findOne({ g: 3 }, { sort: { v: -1 } })).to.deep.equal({ _id: 94, g: 3, v: 94 });
      expect(watch.closed()).to.equal(2 * IDS.length);
    });

    it('reads a pinned _id through the single-key path, with no batched read', async () => {
      const { coll, pool } = await setup(20);
      pool.resetCounts();
      expect(await read(coll.find({ _id: 7 }))).to.deep.equal([{ _id: 7, g: 0, v: 7 }]);
      expect(await read(coll.find({ _id: 7, g: 1 }))).to.deep.equal([]);
      expect(await read(coll.find({ _id: 7 }).skip(1))).to.deep.equal([]);
      for (const id of IDS) expect(pool.count(id, 'findBatches')).to.equal(0);
    });
  });

  describe('builder methods', () => {
    it('project, filter and map refine the query before the first read', async () => {
      const { coll } = await setup(30);
      const cursor = coll
        .find({ g: 0 })
        .filter({ g: 1 })
        .project<{ v: number }>({ v: 1, _id: 0 })
        .map((d) => d.v * 10);
      expect(await cursor.toArray()).to.deep.equal([10, 80, 150, 220, 290]);
      expect(await coll.findOne({ g: 2 }, { sort: { v: -1 }, projection: { v: 1 } })).to.deep.equal({ _id: 23, v: 23 });
    });

    it('refuse after the first read, and bad values at once', async () => {
      const { coll } = await setup(5);
      const cursor = coll.find({});
      await cursor.next();
      for (const call of [() => cursor.sort({ v: 1 }), () => cursor.skip(1), () => cursor.limit(1), () => cursor.batchSize(2), () => cursor.project({}), () => cursor.filter({})]) {
        expect(call).to.throw(ShardkitInvalidArgumentError);
      }
      expect(() => coll.find({}, { skip: -1 })).to.throw(ShardkitInvalidArgumentError);
      expect(() => coll.find({}).limit(1.5)).to.throw(ShardkitInvalidArgumentError);
      expect(() => coll.find({}).batchSize(-2)).to.throw(ShardkitInvalidArgumentError);
    });
  });

  describe('while ranges move', () => {
    const R1 = topology(['a', 'b', 'c']);
    const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });
    const r1 = ShardRouter.fromTopology(R1);
    const r2 = ShardRouter.fromTopology(R2);
    const EPOCH = 2;
    const N = 300;
    const moving = Array.from({ length: N }, (_, i) => i).filter((i) => r1.route(i) !== r2.route(i));

    async function seeded() {
      const pool = new SpyPool(['a', 'b', 'c', 'd']);
      const before = new ShardedCollection({ name: 'm', routing: new StaticRoutingSource(stable(R1)), pool });
      await before.insertMany(Array.from({ length: N }, (_, i) => ({ _id: i, g: i % 4 })));
      const source = new SwitchSource(migrating(R1, R2, EPOCH));
      const coll = new ShardedCollection({ name: 'm', routing: source, pool });
      /** What the migrator's copier does to one key: fence at the old owner, copy to the new one. */
      const copy = async (id: number): Promise<void> => {
        const [fenced] = await pool.raw(r1.route(id)).fence([{ id, h: r2.point(id) }], EPOCH);
        if (fenced !== undefined && fenced._ph === undefined) await pool.raw(r2.route(id)).insertIfAbsent([copyForTarget(fenced)]);
      };
      const fenceOnly = async (id: number): Promise<void> => {
        await pool.raw(r1.route(id)).fence([{ id, h: r2.point(id) }], EPOCH);
      };
      return { pool, coll, source, copy, fenceOnly };
    }

    function expectEachOnce(docs: Document[], ids: readonly number[]): void {
      expect(docs.map((d) => d['_id'])).to.deep.equal([...ids].sort((a, b) => a - b));
    }

    it('has keys that move in the fixture', () => {
      expect(moving.length).to.be.greaterThan(30);
    });

    it('counts each fenced document once, copied or not, in small batches', async () => {
      const { coll, copy, fenceOnly } = await seeded();
      for (const [i, id] of moving.entries()) await (i % 2 === 0 ? copy(id) : fenceOnly(id));
      const all = Array.from({ length: N }, (_, i) => i);
      for (const batchSize of [1, 3, 50]) expectEachOnce(await read(coll.find({}, { batchSize })), all);
      expectEachOnce(await read(coll.find({ g: 1 }, { sort: { g: 1 }, batchSize: 2 })), all.filter((i) => i % 4 === 1));
    });

    it('counts each document once when the copier runs while the cursor reads', async () => {
      const { pool, coll, copy } = await seeded();
      const todo = [...moving];
      // Between any two shard calls of the cursor, copy a few more keys (fence at the old owner, copy to the new).
      pool.before = async (_shard, op) => {
        if (op !== 'findBatches' && op !== 'find') return;
        for (const id of todo.splice(0, 7)) await copy(id);
      };
      const docs = await read(coll.find({}, { batchSize: 4 }));
      pool.before = undefined;
      expectEachOnce(docs, Array.from({ length: N }, (_, i) => i));
    });

    it('takes the new owner\'s copy of a document fenced after that owner\'s stream passed it', async () => {
      const { pool, coll, copy, fenceOnly } = await seeded();
      for (const id of moving) await fenceOnly(id);
      // Every shard's batched read chose its documents before the copies land: the new owner's stream
      // has none of them, the old owners' have them fenced, and the copies exist by the time those are resolved.
      pool.before = async (_shard, op) => {
        if (op !== 'find') return;
        pool.before = undefined;
        for (const id of moving) await copy(id);
      };
      const docs = await read(coll.find({}, { batchSize: 1000 }));
      expectEachOnce(docs, Array.from({ length: N }, (_, i) => i));
      expect(pool.count('d', 'find')).to.be.greaterThan(0);
    });

    it('restarts under the migrating state when a shard answers "moved" to a cursor on the stable one', async () => {
      const { pool, copy, fenceOnly } = await seeded();
      // A router that has not seen the migration start: its source serves stable(R1) until it refreshes.
      const lagging = new LaggingSource(stable(R1), migrating(R1, R2, EPOCH));
      const coll = new ShardedCollection({ name: 'm', routing: lagging, pool });
      // Only keys past the first batches are fenced, so the cursor has emitted documents when it meets a fence.
      for (const [i, id] of moving.filter((k) => k >= 150).entries()) await (i % 2 === 0 ? copy(id) : fenceOnly(id));
      const cursor = coll.find({}, { batchSize: 8 });
      const first = await cursor.next();
      const rest = await cursor.toArray();
      expect(lagging.refreshes).to.be.greaterThan(0);
      expect(cursor.restarts).to.equal(1);
      expect([first, ...rest]).to.deep.equal(Array.from({ length: N }, (_, i) => ({ _id: i, g: i % 4 })));
    });

    it('restarts past its last document when the routing state changes mid-stream, repeating and skipping nothing', async () => {
      const { coll, copy, source } = await seeded();
      for (const id of moving) await copy(id);
      const cursor = coll.find({}, { sort: { g: -1 }, batchSize: 5 });
      const seen: Document[] = [];
      for await (const d of cursor) {
        seen.push(d);
        // The migration commits: the old owners' fenced copies are leftovers from now on.
        if (seen.length === 40) source.state = committed(R1, R2, EPOCH + 1);
      }
      expect(cursor.restarts).to.equal(1);
      const expected = Array.from({ length: N }, (_, i) => ({ _id: i, g: i % 4 })).sort((x, y) => y.g - x.g || x._id - y._id);
      expect(seen).to.deep.equal(expected);
    });
  });
});
