import { expect } from 'chai';
import * as shardkit from '../../src/index.js';

describe('index', () => {
  it('exports every layer from the one barrel', () => {
    for (const name of [
      'ErrorCode', 'ShardkitError', 'canonicalKeyBytes', 'xxhash32', 'ketamaPoint', 'ringHash',
      'Topology', 'redactUri', 'serializeTopology', 'Ring', 'applyChange', 'ShardRouter',
      'StaticRoutingSource', 'planRebalance', 'MemoryStore', 'FileConfigStore', 'MemoryConfigStore', 'MongoConfigStore',
      'MongoStore', 'ShardedCollection', 'Migrator', 'MigrationPhase',
    ]) {
      expect(shardkit, name).to.have.property(name);
    }
  });

  it('routes end to end through the barrel alone', () => {
    const t = shardkit.Topology.parse('shards:\n  - id: a\n  - id: b\n');
    const next = shardkit.applyChange(t, { kind: 'add', shard: { id: 'c', weight: 1 } });
    const plan = shardkit.planRebalance(t, next);
    const ring = shardkit.Ring.fromTopology(next);
    expect(['a', 'b', 'c']).to.include(ring.route('user:1'));
    expect(plan.movedFraction).to.be.closeTo(plan.minimalFraction, 1e-12);
  });
});
