/** ADR 0008, decision 2: the migrator refuses a target topology with another shard key, before taking the lock. */
import { expect } from 'chai';
import { ErrorCode } from '../../../src/errors.js';
import { Topology } from '../../../src/topology/topology.js';
import { rejection } from '../../support/rejection.js';
import { World } from './migrate-harness.js';

function keyed(ids: readonly string[], epoch: number, shardKey?: string): Topology {
  return Topology.from({ name: 'app', epoch, vnodes: 8, shards: ids.map((id) => ({ id, weight: 1 })), ...(shardKey === undefined ? {} : { shardKey }) });
}

describe('Migrator and shard keys', () => {
  it('refuses a rebalance to a topology with another shard key with shardkit.shardKey.changed, changing nothing', async () => {
    const w = new World();
    await w.init(keyed(['s1', 's2'], 1, 'tenant'), ['s3']);
    const e = await rejection(w.migrator().start(keyed(['s1', 's2', 's3'], 2, 'account.id')));
    expect(e.code).to.equal(ErrorCode.shardKeyChanged);
    expect(await w.state()).to.deep.include({ phase: 'stable', epoch: 1 });
    expect((await w.config.readLock())?.owner ?? null).to.equal(null);
  });

  it('keeps the shard key through a migration: the published topology names it', async () => {
    const w = new World();
    await w.init(keyed(['s1', 's2'], 1, 'tenant'), ['s3']);
    await w.migrator().start(keyed(['s1', 's2', 's3'], 2, 'tenant'));
    const state = await w.state();
    expect(state.phase).to.equal('stable');
    expect(state.topology.shardKey).to.equal('tenant');
  });
});
