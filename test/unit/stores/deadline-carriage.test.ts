/**
 * How a shard call's deadline travels (ADR 0003, "Carrying the deadline"): handed down with each call
 * (`callWithDeadline`, the attempt's view), not through Node's `AsyncLocalStorage`, which once used
 * runs a hook for every promise of the process. The data path's defaults must never use it; an
 * operation's one deadline must still reach every shard call of its attempt, those made after an
 * `await` included; and a decorator that waits before calling the store it wraps must hand it on.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { expect } from 'chai';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { callWithDeadline, currentDeadline, deadlineIn, type Deadline } from '../../../src/stores/deadline.js';
import { wrapStore } from '../../../src/stores/instrumented-store.js';
import { StoreMetrics } from '../../../src/metrics/store-metrics.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import { systemClock } from '../../../src/clock.js';
import { hooked } from '../../support/hooked-store.js';
import { migrating, SpyPool, stable, topology } from '../collection/support.js';

const R1 = topology(['a', 'b', 'c']);
const R2 = R1.with({ kind: 'add', shard: { id: 'd', weight: 1 } });

/** Counts every entry into an `AsyncLocalStorage` scope while `fn` runs. */
async function scopesEntered(fn: () => Promise<void>): Promise<number> {
  const proto = AsyncLocalStorage.prototype as unknown as Record<'run' | 'enterWith', (...args: unknown[]) => unknown>;
  const run = proto.run;
  const enterWith = proto.enterWith;
  let entered = 0;
  proto.run = function (this: unknown, ...args: unknown[]) {
    entered++;
    return run.apply(this, args);
  };
  proto.enterWith = function (this: unknown, ...args: unknown[]) {
    entered++;
    return enterWith.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.run = run;
    proto.enterWith = enterWith;
  }
  return entered;
}

describe('carrying a shard call deadline', function () {
  it("never enters an AsyncLocalStorage on the data path's defaults (the stack connectShardedCollection builds)", async function () {
    const metrics = new StoreMetrics();
    const stores = new Map<string, ShardStore>(['a', 'b', 'c'].map((id) => [id, wrapStore(new MemoryStore(id), { metrics, resilience: { opTimeoutMs: 1000, deadlineMs: 1000 } })]));
    const coll = new ShardedCollection({
      name: 'o',
      routing: new StaticRoutingSource(stable(R1)),
      pool: { store: (id: string) => stores.get(id) as ShardStore },
      operationTimeoutMs: 1000,
      metrics,
    });
    const entered = await scopesEntered(async () => {
      await coll.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: `k${i}`, n: i })));
      await coll.insertOne({ _id: 'x', n: -1 });
      expect(await coll.findOne({ _id: 'k3' })).to.deep.equal({ _id: 'k3', n: 3 });
      await coll.updateOne({ _id: 'k4' }, { $set: { n: 40 } });
      await coll.updateMany({ n: { $lt: 3 } }, { $inc: { n: 100 } });
      await coll.replaceOne({ _id: 'k5' }, { n: 50 });
      await coll.deleteOne({ _id: 'x' });
      expect(await coll.find({ n: { $gte: 100 } }).toArray()).to.have.length(3);
      expect(await coll.countDocuments({})).to.equal(30);
      expect(await coll.aggregate([{ $group: { _id: null, total: { $sum: 1 } } }]).toArray()).to.deep.equal([{ _id: null, total: 30 }]);
    });
    expect(entered).to.equal(0);
    // What an application asks for explicitly (a call's maxTimeMS) may use it: a span of many calls.
    const withOption = await scopesEntered(async () => {
      await coll.countDocuments({}, { maxTimeMS: 500 });
    });
    expect(withOption).to.be.greaterThan(0);
  });

  it("hands an operation's one deadline to every shard call of its attempt, those after an await included", async function () {
    const pool = new SpyPool(['a', 'b', 'c', 'd']);
    await new ShardedCollection({ name: 'o', routing: new StaticRoutingSource(stable(R1)), pool }).insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: `k${i}`, n: i })));
    const r1 = ShardRouter.fromTopology(R1);
    const r2 = ShardRouter.fromTopology(R2);
    const moving = Array.from({ length: 40 }, (_, i) => `k${i}`).find((k) => r1.route(k) !== r2.route(k)) as string;
    const coll = new ShardedCollection({ name: 'o', routing: new StaticRoutingSource(migrating(R1, R2, 2)), pool, operationTimeoutMs: 5000 });
    const seen: Array<{ op: string; at: number | undefined }> = [];
    pool.before = async (_shardId, op) => {
      seen.push({ op, at: currentDeadline()?.at });
    };
    // A write to a moving key whose copy is in flight (fenced at the old owner, not at the new one yet):
    // the write at the old owner matches nothing, then fence, copy to the new owner and the write there.
    await pool.raw(r1.route(moving)).fence([{ id: moving, h: r2.point(moving) }], 2);
    await coll.updateOne({ _id: moving }, { $set: { n: -5 } });
    expect(seen.map((s) => s.op)).to.include.members(['fence', 'insertIfAbsent', 'updateOne']);
    const first = seen[0]?.at;
    expect(first).to.be.a('number');
    for (const s of seen) expect(s.at, s.op).to.equal(first);
  });

  it('hands the deadline on through a decorator that awaits before calling the store it wraps', async function () {
    const memory = new MemoryStore('s1');
    let seenAt: number | undefined;
    const inner = hooked(memory, {
      before: async () => {
        seenAt = currentDeadline()?.at;
      },
    });
    // The outer decorator waits (a backoff, a measurement) before it calls the inner one.
    const outer = hooked(inner, {
      before: async () => {
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    const deadline: Deadline = deadlineIn(systemClock, 700);
    await callWithDeadline(deadline, () => outer.insert({ _id: 'k', _h: 1, _v: 1 }));
    expect(seenAt).to.equal(deadline.at);
    // And nothing leaks to a call made later, outside it.
    seenAt = -1;
    await outer.insert({ _id: 'k2', _h: 2, _v: 1 });
    expect(seenAt).to.equal(undefined);
  });
});
