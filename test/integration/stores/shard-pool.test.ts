import { expect } from 'chai';
import { ErrorCode, ShardkitStoreError } from '../../../src/errors.js';
import { StoreMetrics } from '../../../src/metrics/store-metrics.js';
import { wrapStore } from '../../../src/stores/instrumented-store.js';
import { MongoShardPool } from '../../../src/stores/shard-pool.js';
import type { TopologySpec } from '../../../src/topology/types.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';
import { metricValue } from '../../support/metric-value.js';

const { shards } = testServerUris();

describe('MongoShardPool', function () {
  const db = uniqueDbName('pool');
  const topology: TopologySpec = {
    name: 'pool-test',
    epoch: 1,
    hash: 'xxhash32',
    vnodes: 160,
    placement: 'hashed',
    shards: [
      { id: 'a', weight: 1, uri: shards[0] as string, db },
      // Same server, other database: shares the client, keeps its own data.
      { id: 'b', weight: 1, uri: shards[0] as string, db: `${db}_b` },
      { id: 'c', weight: 1, uri: (shards[1] ?? shards[0]) as string, db },
      { id: 'dead', weight: 1, uri: 'mongodb://u:pw@127.0.0.1:1/', db },
    ],
  };

  it('routes each shard id to its own server and database', async function () {
    const pool = new MongoShardPool({ collection: 'docs', topology, opTimeoutMs: 5000 });
    try {
      await pool.store('a').insert({ _id: 'k', _h: 1, _v: 1, on: 'a' });
      await pool.store('b').insert({ _id: 'k', _h: 1, _v: 1, on: 'b' });
      await pool.store('c').insert({ _id: 'k', _h: 1, _v: 1, on: 'c' });
      for (const id of ['a', 'b', 'c']) expect((await pool.store(id).get('k'))?.['on']).to.equal(id);
    } finally {
      for (const id of ['a', 'b', 'c']) {
        await pool.store(id).deleteRange({ start: -1, end: 0xffffffff }, {}, 1000);
      }
      await pool.close();
    }
  });

  it('reopens a shard the operator pointed elsewhere (a new uri or db in a newer topology)', async function () {
    const pool = new MongoShardPool({ collection: 'docs', topology, opTimeoutMs: 5000 });
    const elsewhere = { ...topology, epoch: 2, shards: [{ id: 'a', weight: 1, uri: (shards[1] ?? shards[0]) as string, db: `${db}_moved` }] };
    try {
      await pool.store('a').insert({ _id: 'k', _h: 1, _v: 1, on: 'old home' });
      pool.addTopology(elsewhere);
      expect(await pool.store('a').get('k')).to.equal(null);
      await pool.store('a').insert({ _id: 'k', _h: 1, _v: 1, on: 'new home' });
      expect((await pool.store('a').get('k'))?.['on']).to.equal('new home');
    } finally {
      await pool.store('a').deleteRange({ start: -1, end: 0xffffffff }, {}, 1000);
      await pool.close();
      const old = new MongoShardPool({ collection: 'docs', topology, opTimeoutMs: 5000 });
      await old.store('a').deleteRange({ start: -1, end: 0xffffffff }, {}, 1000);
      await old.close();
    }
  });

  it('turns an unreachable shard into storeUnavailable with metrics, retries and an open circuit', async function () {
    const metrics = new StoreMetrics();
    const pool = new MongoShardPool({
      collection: 'docs',
      topology,
      opTimeoutMs: 200,
      wrap: (s) => wrapStore(s, { metrics, resilience: { opTimeoutMs: 2000, retries: 1, baseDelayMs: 10, breaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } } }),
    });
    try {
      const dead = pool.store('dead');
      const codes: string[] = [];
      for (let i = 0; i < 2; i++) {
        try {
          await dead.get('k');
        } catch (error) {
          expect(error).to.be.instanceOf(ShardkitStoreError);
          expect((error as ShardkitStoreError).message).to.not.contain('pw@');
          codes.push((error as ShardkitStoreError).code);
        }
      }
      expect(codes).to.deep.equal([ErrorCode.storeUnavailable, ErrorCode.circuitOpen]);
      expect(await metricValue(metrics.retries, { shard: 'dead', op: 'get' })).to.equal(1);
      expect(await metricValue(metrics.breakerState, { shard: 'dead' })).to.equal(2);
      expect(await metrics.registry.metrics()).to.contain(`shardkit_store_errors_total{shard="dead",op="get",code="${ErrorCode.circuitOpen}"} 1`);
    } finally {
      await pool.close();
    }
  });
});
