/**
 * Every exported class and factory called as plain JavaScript may call it: with nothing, an empty
 * object, `null` and a value of the wrong type. Each must refuse with a `ShardkitError` whose code
 * is stable and whose message names the argument, never a `TypeError` from deep inside (issue 10:
 * `new Ring({})` failed with "Cannot read properties of undefined (reading 'length')").
 */
import { expect } from 'chai';
import * as shardkit from '../../src/index.js';
import * as testing from '../../src/testing.js';
import { ShardkitError } from '../../src/errors.js';

/** The values plain JavaScript passes by mistake. */
const BAD = { undefined: undefined, '{}': {}, null: null, 'a number': 42 } as const;
type Bad = keyof typeof BAD;

interface Case {
  /** How the export is called, `arg` in the position under test. */
  readonly call: (arg: unknown) => unknown;
  /** Inputs the call accepts as documented (an optional argument left out, empty options). */
  readonly accepts?: readonly Bad[];
  /** What the error message must say, naming the bad argument. */
  readonly names: RegExp;
}

const topology = shardkit.Topology.from({ name: 't', shards: [{ id: 'a', weight: 1 }] });
const state = { phase: 'stable' as const, epoch: 1, topology: topology.toJSON() };
const memoryStore = new testing.MemoryStore('a');
const memoryConfig = new testing.MemoryConfigStore({ initial: state });
const fakeCollection = { findOne: () => null, updateOne: () => null, dbName: 'x' };

// `any` is what plain JavaScript hands over: these calls bypass the types on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any */
const A = (x: unknown): any => x;

/** Per export, one or more calls; a key per argument position that takes an object or a string. */
const CASES: Record<string, Record<string, Case>> = {
  Topology: {
    'Topology.from(input)': { call: (x) => shardkit.Topology.from(x), names: /topology/ },
    'Topology.parse(text)': { call: (x) => shardkit.Topology.parse(A(x)), accepts: [], names: /text|topology|shards/ },
  },
  serializeTopology: {
    'serializeTopology(spec)': { call: (x) => shardkit.serializeTopology(A(x), 'json'), accepts: ['{}'], names: /spec/ },
    'serializeTopology(spec, format)': { call: (x) => shardkit.serializeTopology(topology.toJSON(), A(x)), names: /format/ },
  },
  applyChange: {
    'applyChange(topology)': { call: (x) => shardkit.applyChange(A(x), { kind: 'add', shard: { id: 'b', weight: 1 } }), names: /topolog/i },
    'applyChange(t, change)': { call: (x) => shardkit.applyChange(topology, A(x)), names: /change/ },
  },
  Ring: {
    'new Ring(parts)': { call: (x) => new shardkit.Ring(A(x)), names: /parts/ },
    'Ring.fromTopology(t)': { call: (x) => shardkit.Ring.fromTopology(A(x)), names: /topology|hash|shards/ },
  },
  ShardRouter: {
    'ShardRouter.fromTopology(t)': { call: (x) => shardkit.ShardRouter.fromTopology(A(x)), names: /topology|shards/ },
    'ShardRouter.fromTopology(t, options)': { call: (x) => shardkit.ShardRouter.fromTopology(topology, A(x)), accepts: ['undefined', '{}'], names: /options/ },
  },
  TopologyFollower: {
    'TopologyFollower.start(store)': { call: (x) => shardkit.TopologyFollower.start(A(x), { leaseMs: 1000 }), names: /store/ },
    'TopologyFollower.start(store, options)': { call: (x) => shardkit.TopologyFollower.start(memoryConfig, A(x)), names: /options|leaseMs/ },
  },
  planRebalance: {
    'planRebalance(from)': { call: (x) => shardkit.planRebalance(A(x), topology), names: /topology|shards/ },
    'planRebalance(from, to)': { call: (x) => shardkit.planRebalance(topology, A(x)), names: /topology|shards/ },
  },
  MongoStore: {
    'new MongoStore(options)': { call: (x) => new shardkit.MongoStore(A(x)), names: /options|shard id/ },
    'MongoStore.connect(options)': { call: (x) => shardkit.MongoStore.connect(A(x)), names: /options|shard id/ },
  },
  MongoShardPool: {
    'new MongoShardPool(options)': { call: (x) => new shardkit.MongoShardPool(A(x)), names: /options|collection/ },
  },
  wrapStore: {
    'wrapStore(store)': { call: (x) => shardkit.wrapStore(A(x)), names: /store/ },
    'wrapStore(store, options)': { call: (x) => shardkit.wrapStore(memoryStore, A(x)), accepts: ['undefined', '{}'], names: /options/ },
  },
  StoreMetrics: {
    'new StoreMetrics(registry)': { call: (x) => new shardkit.StoreMetrics(A(x)), accepts: ['undefined'], names: /registry/ },
  },
  MongoConfigStore: {
    'new MongoConfigStore(collection)': { call: (x) => new shardkit.MongoConfigStore(A(x), { name: 't', checkClockSkew: false }), names: /collection/ },
    'new MongoConfigStore(collection, options)': { call: (x) => new shardkit.MongoConfigStore(A(fakeCollection), A(x)), names: /options|name/ },
    'MongoConfigStore.connect(options)': { call: (x) => shardkit.MongoConfigStore.connect(A(x)), names: /options|uri/ },
  },
  FileConfigStore: {
    'new FileConfigStore(path)': { call: (x) => new shardkit.FileConfigStore(A(x)), names: /path/ },
    'new FileConfigStore(path, options)': { call: (x) => new shardkit.FileConfigStore('/tmp/shardkit-plain-js.json', A(x)), accepts: ['undefined', '{}'], names: /options/ },
  },
  loadConfigFile: {
    'loadConfigFile(path)': { call: (x) => shardkit.loadConfigFile(A(x)), names: /path/ },
  },
  openConfigStore: {
    'openConfigStore(config)': { call: (x) => shardkit.openConfigStore(A(x)), names: /config/ },
  },
  ShardedCollection: {
    'new ShardedCollection(options)': { call: (x) => new shardkit.ShardedCollection(A(x)), names: /options|routing|stores|name/ },
  },
  connectShardedCollection: {
    'connectShardedCollection(options)': { call: (x) => shardkit.connectShardedCollection(A(x)), names: /options|config/ },
  },
  auditPlacement: {
    'auditPlacement(options)': { call: (x) => shardkit.auditPlacement(A(x)), names: /options|state/ },
  },
  Migrator: {
    'new Migrator(options)': { call: (x) => new shardkit.Migrator(A(x)), names: /options|config|pool|owner/ },
  },
  MemoryStore: {
    'new MemoryStore(shardId)': { call: (x) => new testing.MemoryStore(A(x)), names: /shard/ },
    'new MemoryStore(shardId, options)': { call: (x) => new testing.MemoryStore('a', A(x)), accepts: ['undefined', '{}'], names: /options/ },
  },
  MemoryShardPool: {
    'new MemoryShardPool(options)': { call: (x) => new testing.MemoryShardPool(A(x)), accepts: ['undefined', '{}'], names: /options/ },
  },
  MemoryConfigStore: {
    'new MemoryConfigStore(options)': { call: (x) => new testing.MemoryConfigStore(A(x)), accepts: ['undefined', '{}'], names: /options/ },
  },
  StaticRoutingSource: {
    'new StaticRoutingSource(state)': { call: (x) => new testing.StaticRoutingSource(A(x)), names: /state|topology|epoch/ },
  },
};

/** Exported functions that take no options object: error classes and error predicates. */
const NOT_OPTION_TAKING = new Set([
  'ShardkitError',
  'ShardkitConflictError',
  'ShardkitInputError',
  'ShardkitInvalidArgumentError',
  'ShardkitRouterError',
  'ShardkitStoreError',
  'hasErrorCode',
  'isInputError',
  'isRetryableError',
]);

/** What calling `call(arg)` did: returned (or resolved), or the error it threw (or rejected with). */
async function outcome(call: () => unknown): Promise<{ error: unknown } | null> {
  try {
    const result = call();
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') await result;
    return null;
  } catch (error) {
    return { error };
  }
}

describe('the public API from plain JavaScript', function () {
  it('has a case for every exported class and function', function () {
    const exported = [...Object.entries(shardkit), ...Object.entries(testing)]
      .filter(([, value]) => typeof value === 'function')
      .map(([name]) => name)
      .filter((name) => !NOT_OPTION_TAKING.has(name));
    expect(exported.filter((name) => !(name in CASES))).to.deep.equal([]);
  });

  for (const cases of Object.values(CASES)) {
    for (const [label, c] of Object.entries(cases)) {
      it(`${label} refuses undefined, {}, null and a number with a ShardkitError naming it`, async function () {
        for (const [bad, value] of Object.entries(BAD) as [Bad, unknown][]) {
          const result = await outcome(() => c.call(value));
          if (c.accepts?.includes(bad) === true) {
            expect(result, `${label} with ${bad}`).to.equal(null);
            continue;
          }
          expect(result, `${label} with ${bad} was accepted`).to.not.equal(null);
          const error = result!.error;
          expect(error, `${label} with ${bad}: ${String(error)}`).to.be.instanceOf(ShardkitError);
          expect((error as ShardkitError).code, `${label} with ${bad}`).to.match(/^shardkit\.[a-zA-Z.]+$/);
          expect((error as Error).message, `${label} with ${bad}`).to.match(c.names);
        }
      });
    }
  }
});
