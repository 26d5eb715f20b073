/**
 * Real migrations over any config store, for the retention tests (issue 8: "after 20 migrations the
 * config store holds a bounded number of documents"): MemoryStores as shards, the real Migrator, and
 * a clock whose timers fire at once, so the router-lease waits of each migration cost no real time.
 */
import type { Clock } from '../../../src/clock.js';
import type { ConfigStore } from '../../../src/config-store/types.js';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { Migrator, type MigrationReport } from '../../../src/rebalance/migrator.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import { Topology } from '../../../src/topology/topology.js';

/**
 * A clock for migrations that runs a thousand times faster than real time: the router-lease waits of
 * each migration cost milliseconds, while the lock's renewal timer still fires only a few times per
 * run. (A clock that fires every timer at once would spin that timer against the config store's
 * real I/O.) A timer cleared before it fires never moves time.
 */
export class InstantClock implements Clock {
  static readonly SPEEDUP = 1000;
  #now = 1_000_000;
  readonly #wallOrigin: number;

  /** `wallOrigin` is `wall()` at the start; it then moves with the monotonic time. */
  constructor(wallOrigin: number) {
    this.#wallOrigin = wallOrigin - this.#now;
  }

  now(): number {
    return this.#now;
  }

  wall(): number {
    return this.#wallOrigin + this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const at = this.#now + Math.max(0, ms);
    return setTimeout(() => {
      this.#now = Math.max(this.#now, at);
      fn();
    }, Math.max(0, ms) / InstantClock.SPEEDUP);
  }

  clearTimeout(handle: unknown): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }
}

/** Options of {@link runMigrations}. */
export interface RunMigrationsOptions {
  readonly config: ConfigStore;
  readonly clock: Clock;
  /** Migrations to run, alternately adding and removing shard `s4`. */
  readonly count: number;
  /** Called after each migration (1-based) with its report. */
  readonly after?: (n: number, report: MigrationReport) => Promise<void> | void;
}

/**
 * Publish `stable(1)` over shards s1..s3 with a few documents, then run `count` migrations, each by
 * another owner (as separate `shardkit rebalance` runs would be). Returns the final epoch.
 */
export async function runMigrations(options: RunMigrationsOptions): Promise<number> {
  const { config, clock } = options;
  const stores = new Map<string, MemoryStore>();
  for (const id of ['s1', 's2', 's3', 's4']) {
    const store = new MemoryStore(id);
    await store.ensureRoutingIndex();
    stores.set(id, store);
  }
  const pool = { store: (id: string): ShardStore => stores.get(id) as MemoryStore };
  let topology = Topology.from({ name: 'app', epoch: 1, hash: 'xxhash32', vnodes: 8, placement: 'hashed', shards: ['s1', 's2', 's3'].map((id) => ({ id, weight: 1 })) });
  await config.compareAndSet(null, { phase: 'stable', epoch: 1, topology: topology.toJSON() });
  const seed = new ShardedCollection<{ _id: string; n: number }>({ name: 't', pool, routing: new StaticRoutingSource((await config.load())!) });
  for (let i = 0; i < 30; i++) await seed.insertOne({ _id: `k${i}`, n: i });
  let epoch = 1;
  for (let n = 1; n <= options.count; n++) {
    const to = n % 2 === 1 ? topology.with({ kind: 'add', shard: { id: 's4', weight: 1 } }) : topology.with({ kind: 'remove', id: 's4' });
    const migrator = new Migrator({ config, pool, owner: `rebalance-${n}`, leaseMs: 1000, opTimeoutMs: 200, batchSize: 7, clock });
    const report = await migrator.start(to);
    epoch = report.epoch;
    const live = await config.load();
    if (live === null) throw new Error('no routing state after a migration');
    topology = Topology.from(live.topology);
    await options.after?.(n, report);
  }
  return epoch;
}
