/**
 * A small world for migrator tests: MemoryStores per shard, a MemoryConfigStore, a fake clock whose
 * sleep advances time instantly, and helpers that seed documents through the real data path and
 * check where every document ended up.
 */
import { expect } from 'chai';
import type { Clock } from '../../../src/clock.js';
import { ErrorCode, ShardkitRouterError } from '../../../src/errors.js';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { Migrator, type MigratorOptions } from '../../../src/rebalance/migrator.js';
import { ShardRouter } from '../../../src/router/router.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { ShardStore, StoredDocument } from '../../../src/stores/shard-store.js';
import { Topology } from '../../../src/topology/topology.js';
import type { TopologySpec } from '../../../src/topology/types.js';
import { hooked, type StoreHooks } from '../../support/hooked-store.js';

/** A four-shard topology with few vnodes, so plans have a handful of moves. */
export function baseTopology(shards = ['s1', 's2', 's3'], vnodes = 8): Topology {
  return Topology.from({ name: 'app', epoch: 1, hash: 'xxhash32', vnodes, placement: 'hashed', shards: shards.map((id) => ({ id, weight: 1 })) });
}

/** The documents tests store. */
export interface Doc {
  _id: string;
  n: number;
}

/** A timer of the World's clock. */
interface Timer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** A migrator frozen as by SIGSTOP: see {@link World.freezer}. */
export interface Freezer {
  /** Set to freeze at the next store call. */
  armed: boolean;
  /** True while frozen. */
  paused: boolean;
  /** The clock to run the frozen migrator on. */
  readonly clock: Clock;
  /** SIGCONT: held timers fire, the held call goes on. */
  wake(): void;
}

/** Where the World's wall clock starts (2023-11-14), far from its monotonic origin. */
const WALL_ORIGIN = 1_700_000_000_000;

export class World {
  now = 1_000_000;
  /** Runs inside every sleep of the migrator, once time has moved: a point to act during its waits. */
  onSleep: ((ms: number) => Promise<void> | void) | undefined;
  /** What `onSleep` threw; a test that sets it asserts this stays empty. */
  readonly sleepErrors: unknown[] = [];
  #timers = 0;
  #queue: Timer[] = [];
  #pumping = false;
  /**
   * The one fake clock of migrator and config store. Timers fire in time order as soon as nothing
   * else can run (every pending promise settled), time jumping to each one's due time, so every
   * sleep is instant and a timer that runs beside the work (the lock's renewal) fires at its own
   * times without moving the work's clock. `wall()` runs from another origin than the monotonic
   * `now()`, so a duration measured across the two (a lease wait from a journal timestamp on
   * `now()`) is wrong by years and fails the timing tests.
   */
  readonly clock: Clock = {
    now: () => this.now,
    wall: () => WALL_ORIGIN + this.now,
    setTimeout: (fn, ms) => {
      const id = ++this.#timers;
      this.#queue.push({ id, at: this.now + Math.max(0, ms), fn });
      this.#pump();
      return id;
    },
    clearTimeout: (handle) => {
      this.#queue = this.#queue.filter((t) => t.id !== handle);
    },
  };

  /** Fire the earliest timer once the event loop is idle, then the next, while any are left. */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    setImmediate(() => {
      this.#pumping = false;
      const next = this.#queue.reduce<Timer | undefined>((a, t) => (a === undefined || t.at < a.at || (t.at === a.at && t.id < a.id) ? t : a), undefined);
      if (next === undefined) return;
      this.#queue = this.#queue.filter((t) => t !== next);
      const ms = Math.max(0, next.at - this.now);
      this.now = Math.max(this.now, next.at);
      void Promise.resolve()
        .then(() => this.onSleep?.(ms))
        .then(next.fn, (error: unknown) => {
          this.sleepErrors.push(error);
          next.fn();
        })
        .then(() => {
          if (this.#queue.length > 0) this.#pump();
        });
    });
  }

  readonly stores = new Map<string, MemoryStore>();
  readonly config = new MemoryConfigStore({ clock: this.clock });
  hooks: StoreHooks = {};
  readonly pool = {
    store: (id: string): ShardStore => {
      const s = this.stores.get(id);
      if (s === undefined) throw new Error(`no store ${id}`);
      return hooked(s, this.hooks);
    },
  };

  /** Create stores for every shard id and publish `stable(t.epoch, t)`. */
  async init(t: Topology, extraShards: readonly string[] = []): Promise<void> {
    for (const id of [...t.shards.map((s) => s.id), ...extraShards]) {
      const store = new MemoryStore(id);
      await store.ensureRoutingIndex();
      this.stores.set(id, store);
    }
    await this.config.compareAndSet(null, { phase: 'stable', epoch: t.epoch, topology: t.toJSON() });
  }

  async state(): Promise<RoutingState> {
    const s = await this.config.load();
    if (s === null) throw new Error('no state');
    return s;
  }

  /** A collection that routes by the currently published state (refreshed on "moved"). */
  collection(): ShardedCollection<Doc> {
    const config = this.config;
    let held: RoutingState | null = null;
    return new ShardedCollection<Doc>({
      name: 't',
      pool: this.pool,
      routing: {
        current: () => {
          if (held === null) throw new ShardkitRouterError(ErrorCode.leaseExpired, 'no state fetched yet');
          return held;
        },
        refresh: async () => {
          held = await config.load();
          if (held === null) throw new Error('no state');
          return held;
        },
      },
    });
  }

  /** Insert `n` documents `k0..k{n-1}` through the data path at the current state. */
  async seed(n: number): Promise<Map<string, number>> {
    const coll = new ShardedCollection<Doc>({ name: 't', pool: this.pool, routing: new StaticRoutingSource(await this.state()) });
    const expected = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      await coll.insertOne({ _id: `k${i}`, n: i });
      expected.set(`k${i}`, i);
    }
    return expected;
  }

  /**
   * Freeze one migrator as SIGSTOP would: once `armed`, its next store call and, from then on, every
   * timer of the clock it runs on (give it `clock`), the lock's renewal among them, wait for `wake()`.
   */
  freezer(): Freezer {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const held: Array<() => void> = [];
    const f: Freezer = {
      armed: false,
      paused: false,
      clock: { ...this.clock, setTimeout: (fn, ms) => this.clock.setTimeout(() => (f.paused ? held.push(fn) : fn()), ms) },
      wake: () => {
        f.paused = false;
        for (const fn of held.splice(0)) fn();
        wake();
      },
    };
    this.hooks = {
      before: async () => {
        if (!f.armed) return;
        f.armed = false;
        f.paused = true;
        this.hooks = {};
        await woken;
      },
    };
    return f;
  }

  /** Wait until `f` froze its migrator (or a thousand turns of the event loop passed). */
  async frozen(f: Freezer): Promise<boolean> {
    for (let i = 0; i < 1000 && !f.paused; i++) await new Promise((resolve) => setImmediate(resolve));
    return f.paused;
  }

  migrator(options: Partial<MigratorOptions> = {}): Migrator {
    return new Migrator({
      config: this.config,
      pool: this.pool,
      owner: 'm1',
      leaseMs: 1000,
      opTimeoutMs: 200,
      batchSize: 7,
      clock: this.clock,
      ...options,
    });
  }

  /** Every stored entry, markers included, by shard. */
  async entries(): Promise<Map<string, StoredDocument[]>> {
    const out = new Map<string, StoredDocument[]>();
    for (const [id, store] of this.stores) out.set(id, await store.find({}));
    return out;
  }

  /**
   * The end state of a finished migration: no markers anywhere, each key once, on the shard `spec`
   * routes it to, with the expected value.
   */
  async assertSettled(spec: TopologySpec, expected: ReadonlyMap<string, number>): Promise<void> {
    const router = ShardRouter.fromTopology(spec);
    const seen = new Map<string, string>();
    for (const [shard, docs] of await this.entries()) {
      for (const d of docs) {
        const id = String(d._id);
        expect(d, `marker left on ${shard}: ${JSON.stringify(d)}`).to.not.have.any.keys('_moved', '_ph', '_ts');
        expect(seen.has(id), `${id} on ${seen.get(id) ?? ''} and ${shard}`).to.equal(false);
        seen.set(id, shard);
        expect(router.route(id), `${id} is on ${shard}`).to.equal(shard);
        expect(d['n'], `value of ${id}`).to.equal(expected.get(id));
      }
    }
    expect([...seen.keys()].sort()).to.deep.equal([...expected.keys()].sort());
  }
}
