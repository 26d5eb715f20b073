import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { ErrorCode, hasErrorCode, ShardkitInvalidArgumentError } from '../../../src/errors.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { SpyPool, stable, topology } from './support.js';

const IDS = ['s1', 's2', 's3'];

// Regression (issue 8, ADR 0003 "The bound"): each shard call had its own deadline counted from its
// own start, so an operation held between its calls (a slow pool, a slow refresh, a paused process)
// made its later calls, writes included, long after it was admitted under its routing state: past
// the migrator's wait for writes admitted under that state.
describe('ShardedCollection with operationTimeoutMs', function () {
  const t = topology(IDS);

  it('refuses a shard call an attempt reaches after its deadline, so the write never lands', async function () {
    const pool = new SpyPool(IDS);
    const coll = new ShardedCollection({ name: 'users', routing: new StaticRoutingSource(stable(t)), pool, operationTimeoutMs: 50 });
    pool.before = async (_shard, op) => {
      if (op === 'insert') await sleep(300);
    };
    const error = await coll.insertOne({ _id: 'k', v: 1 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(hasErrorCode(error, ErrorCode.storeTimeout), String(error)).to.equal(true);
    pool.before = undefined;
    for (const id of IDS) expect(await pool.raw(id).get('k')).to.equal(null);
  });

  it('lets an attempt that ends in time through', async function () {
    const pool = new SpyPool(IDS);
    const coll = new ShardedCollection({ name: 'users', routing: new StaticRoutingSource(stable(t)), pool, operationTimeoutMs: 60_000 });
    await coll.insertOne({ _id: 'k', v: 1 });
    expect((await coll.findOne({ _id: 'k' }))?.['v']).to.equal(1);
  });

  it('rejects a bad operationTimeoutMs as misuse', function () {
    expect(() => new ShardedCollection({ name: 'x', routing: new StaticRoutingSource(stable(t)), pool: new SpyPool(IDS), operationTimeoutMs: -1 })).to.throw(
      ShardkitInvalidArgumentError,
    );
  });
});
