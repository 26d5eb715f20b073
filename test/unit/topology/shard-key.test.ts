/** The `shardKey` of a topology (ADR 0008): validation with its own code, the `_id` default, and no change on a live deployment. */
import { expect } from 'chai';
import { ErrorCode, ShardkitError } from '../../../src/errors.js';
import { planRebalance } from '../../../src/rebalance/plan.js';
import { serializeTopology } from '../../../src/topology/serialize.js';
import { Topology } from '../../../src/topology/topology.js';

const BASE = { name: 'orders', epoch: 1, shards: [{ id: 's1' }, { id: 's2' }] };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(ShardkitError);
    return (error as ShardkitError).code;
  }
  return undefined;
}

describe('Topology shardKey', () => {
  it('accepts a field and a dotted path, keeps it through toJSON, JSON and YAML', () => {
    for (const shardKey of ['tenant', 'account.id']) {
      const t = Topology.from({ ...BASE, shardKey });
      expect(t.shardKey).to.equal(shardKey);
      expect(t.toJSON().shardKey).to.equal(shardKey);
      expect(Topology.parse(serializeTopology(t.toJSON(), 'yaml')).shardKey).to.equal(shardKey);
      expect(Topology.parse(serializeTopology(t.toJSON(), 'json')).shardKey).to.equal(shardKey);
    }
  });

  it('defaults to _id and leaves it out of the spec, so an _id-keyed topology serializes as before', () => {
    const plain = Topology.from(BASE);
    const explicit = Topology.from({ ...BASE, shardKey: '_id' });
    expect(plain.shardKey).to.equal('_id');
    expect(explicit.shardKey).to.equal('_id');
    expect('shardKey' in plain.toJSON()).to.equal(false);
    expect(JSON.stringify(explicit)).to.equal(JSON.stringify(plain));
  });

  for (const bad of ['', 'a..b', '.a', 'a.', '$tenant', 'a.$b', '_h', '_v.x', '_moved', '_ph', '_ts', '_id.x', 'x'.repeat(257), 5, null, ['tenant']]) {
    it(`refuses shardKey ${JSON.stringify(bad)?.slice(0, 20)} with shardkit.topology.badShardKey`, () => {
      expect(codeOf(() => Topology.from({ ...BASE, shardKey: bad }))).to.equal(ErrorCode.topologyBadShardKey);
    });
  }

  it('refuses a plan that changes the shard key with shardkit.shardKey.changed (every document would move)', () => {
    const from = Topology.from({ ...BASE, shardKey: 'tenant' });
    const to = Topology.from({ ...BASE, epoch: 2, shardKey: 'account.id' });
    expect(codeOf(() => planRebalance(from, to))).to.equal(ErrorCode.shardKeyChanged);
    expect(codeOf(() => planRebalance(Topology.from(BASE), Topology.from({ ...BASE, epoch: 2, shardKey: 'tenant' })))).to.equal(ErrorCode.shardKeyChanged);
    expect(planRebalance(from, from.with({ kind: 'add', shard: { id: 's3', weight: 1 } })).movedFraction).to.be.greaterThan(0);
  });
});
