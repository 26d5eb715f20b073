import { expect } from 'chai';
import { ErrorCode, ShardkitInputError } from '../../../src/errors.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { ResilientStore } from '../../../src/stores/resilience.js';
import { MemoryShardPool, MongoShardPool } from '../../../src/stores/shard-pool.js';
import type { TopologySpec } from '../../../src/topology/types.js';

const topology = (shards: TopologySpec['shards']): TopologySpec => ({ name: 't', epoch: 1, hash: 'xxhash32', vnodes: 160, placement: 'hashed', shards });

describe('MemoryShardPool', function () {
  describe('#store', function () {
    it('creates one store per shard id on demand and reuses it', async function () {
      const pool = new MemoryShardPool();
      const a = pool.store('a');
      expect(pool.store('a')).to.equal(a);
      expect(pool.store('b')).to.not.equal(a);
      await a.insert({ _id: 'k', _h: 1, _v: 1 });
      expect(await pool.store('b').get('k')).to.equal(null);
      expect(pool.memory('a')).to.be.instanceOf(MemoryStore);
      expect(pool.shardIds()).to.deep.equal(['a', 'b']);
    });

    it('dresses each store with the wrapper', function () {
      const pool = new MemoryShardPool({ wrap: (s) => new ResilientStore(s) });
      expect(pool.store('a')).to.be.instanceOf(ResilientStore);
      expect(pool.memory('a')).to.be.instanceOf(MemoryStore);
    });
  });

  describe('#close', function () {
    it('closes every store', async function () {
      const pool = new MemoryShardPool();
      const memory = pool.memory('a');
      await pool.close();
      try {
        await memory.ping();
        expect.fail('expected a closed store');
      } catch (error) {
        expect((error as ShardkitInputError).code).to.equal(ErrorCode.storeUnavailable);
      }
    });
  });
});

describe('MongoShardPool', function () {
  describe('#store', function () {
    it('refuses a shard no known topology names', async function () {
      const pool = new MongoShardPool({ collection: 'c', topology: topology([{ id: 's1', weight: 1, uri: 'mongodb://127.0.0.1:1/' }]) });
      expect(() => pool.store('nope')).to.throw(ShardkitInputError).with.property('code', ErrorCode.topologyUnknownShard);
      await pool.close();
    });

    it('refuses a shard without a uri', async function () {
      const pool = new MongoShardPool({ collection: 'c', topology: topology([{ id: 's1', weight: 1 }]) });
      expect(() => pool.store('s1')).to.throw(ShardkitInputError).with.property('code', ErrorCode.topologyInvalid);
      await pool.close();
    });

    it('keeps shards of earlier topologies reachable', async function () {
      const pool = new MongoShardPool({ collection: 'c', topology: topology([{ id: 's1', weight: 1, uri: 'mongodb://127.0.0.1:1/' }]) });
      pool.addTopology(topology([{ id: 's2', weight: 1, uri: 'mongodb://127.0.0.1:2/' }]));
      expect(pool.store('s1').shardId).to.equal('s1');
      expect(pool.store('s2').shardId).to.equal('s2');
      expect(pool.store('s1')).to.equal(pool.store('s1'));
      await pool.close();
    });

    it('reopens a shard whose uri or db changed, and keeps one that did not change', async function () {
      const closed: string[] = [];
      const pool = new MongoShardPool({
        collection: 'c',
        topology: topology([{ id: 's1', weight: 1, uri: 'mongodb://127.0.0.1:1/' }, { id: 's2', weight: 1, uri: 'mongodb://127.0.0.1:2/' }]),
        wrap: (store) => {
          const close = store.close.bind(store);
          return Object.assign(Object.create(store) as typeof store, { close: async () => { closed.push(store.shardId); await close(); } });
        },
      });
      const s1 = pool.store('s1');
      const s2 = pool.store('s2');
      pool.addTopology(topology([{ id: 's1', weight: 1, uri: 'mongodb://127.0.0.1:3/' }, { id: 's2', weight: 1, uri: 'mongodb://127.0.0.1:2/' }]));
      expect(pool.store('s1')).to.not.equal(s1);
      expect(pool.store('s2')).to.equal(s2);
      pool.addTopology(topology([{ id: 's2', weight: 1, uri: 'mongodb://127.0.0.1:2/', db: 'other' }]));
      expect(pool.store('s2')).to.not.equal(s2);
      expect(closed).to.deep.equal([]);
      await pool.close();
      expect(closed.sort()).to.deep.equal(['s1', 's1', 's2', 's2']);
    });
  });
});
