/** A deployment on in-memory stores for the serve tests: a config store with a state, and shard stores. */
import { MemoryConfigStore } from '../../src/config-store/memory-config-store.js';
import type { Deployment } from '../../src/deployment/deployment.js';
import { ErrorCode, ShardkitError, ShardkitStoreError } from '../../src/errors.js';
import { freshMove, emptyCounters, journalKey, journalToRecord, type MigrationJournal } from '../../src/rebalance/journal.js';
import { MemoryStore } from '../../src/stores/memory-store.js';
import type { ShardStore } from '../../src/stores/shard-store.js';
import type { TopologySpec } from '../../src/topology/types.js';

/** A two-shard topology `people` at `epoch`. */
export function topology(ids: readonly string[] = ['s1', 's2'], epoch = 1): TopologySpec {
  return { name: 'people', epoch, hash: 'xxhash32', vnodes: 8, placement: 'hashed', shards: ids.map((id) => ({ id, weight: 1, uri: `mongodb://pw:secret@${id}.example:27017/app` })) };
}

/** A journal of a migration from s1, s2 to s1, s2, s3 in phase copy, `copied` documents into its first move. */
export function journal(copied: number, phase: MigrationJournal['phase'] = 'copy'): MigrationJournal {
  const first = { ...freshMove(-1, 1000, 's1', 's3', 40), copied };
  const second = { ...freshMove(5000, 9000, 's2', 's3', 60), copyDone: true, sweepDone: true, copied: 60 };
  return {
    id: 'm1',
    name: 'people',
    owner: 'test',
    baseEpoch: 1,
    reverse: false,
    from: topology(),
    to: topology(['s1', 's2', 's3'], 2),
    epoch: 2,
    stableEpoch: 3,
    phase,
    publishedAt: 1,
    committedAt: null,
    settledAt: null,
    moves: [first, second],
    counters: { ...emptyCounters(), docsMoved: copied + 60 },
    startedAt: 1,
    finishedAt: phase === 'done' ? 2 : null,
    outcome: phase === 'done' ? 'completed' : null,
  };
}

/** An in-memory deployment; `down` names shards whose store cannot be opened. */
export interface FakeDeployment extends Deployment {
  readonly stores: Map<string, MemoryStore>;
  readonly down: Set<string>;
  opens: number;
  setJournal(j: MigrationJournal): Promise<void>;
}

/** A deployment whose config store holds `stable(1, topology())` and whose shards are MemoryStores. */
export async function fakeDeployment(): Promise<FakeDeployment> {
  const configStore = new MemoryConfigStore();
  await configStore.compareAndSet(null, { phase: 'stable', epoch: 1, topology: topology() });
  const stores = new Map<string, MemoryStore>();
  const down = new Set<string>();
  const d: FakeDeployment = {
    config: { configStore: { kind: 'file', path: '/tmp/unused.json' }, name: 'people', collection: 'people', leaseMs: 300, opTimeoutMs: 100, refreshIntervalMs: 100 },
    configStore,
    stores,
    down,
    opens: 0,
    async requireState() {
      const state = await configStore.load();
      if (state === null) throw new ShardkitError(ErrorCode.configNoState, 'no state');
      return state;
    },
    async openShard(shard): Promise<ShardStore> {
      d.opens++;
      if (down.has(shard.id)) throw new ShardkitStoreError(ErrorCode.storeUnavailable, `connect mongodb://pw:secret@${shard.id}.example failed`, { shardId: shard.id });
      let store = stores.get(shard.id);
      if (store === undefined) {
        store = new MemoryStore(shard.id);
        stores.set(shard.id, store);
      }
      return store;
    },
    async close() {},
    async setJournal(j) {
      await configStore.writeJournal(journalKey('people'), journalToRecord(j));
    },
  };
  return d;
}
