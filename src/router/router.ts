import { ErrorCode, ShardkitConflictError, ShardkitInvalidArgumentError } from '../errors.js';
import type { ShardKey } from '../hash/types.js';
import { Ring } from '../ring/ring.js';
import { Topology } from '../topology/topology.js';
import type { TopologySpec } from '../topology/types.js';
import type { LRUCache } from 'lru-cache';
import { EpochState, NO_PROBE, PROBE_EVERY } from './epoch-state.js';
import { optionalObject } from '../arguments.js';

/** Default number of keys the router caches (twice hashring's default of 5000). */
export const DEFAULT_CACHE_SIZE = 10_000;

/** Largest accepted `cacheSize`: lru-cache preallocates index arrays sized to it. */
export const MAX_CACHE_SIZE = 2 ** 24;

/**
 * Default {@link ShardRouterOptions.recencySample}: measured on the Zipf(0.99) and hot-key
 * benchmarks (bench/routing.ts, ADR 0004). A refresh with lru-cache's `get` costs far more inside
 * the router than `peek` (about 110 ns on the hot benchmark), so 1 hit in 64 made a hot hit 4-7 ns
 * cheaper than 1 in 16 (29.0 vs 33.2-36.4 ns) for 0.2-0.5 points of Zipf hit rate (54.6% vs 55.1%).
 */
export const DEFAULT_RECENCY_SAMPLE = 64;

/** Largest accepted {@link ShardRouterOptions.recencySample}. */
export const MAX_RECENCY_SAMPLE = 1024;

/** Options of {@link ShardRouter.fromTopology}. */
export interface ShardRouterOptions {
  /**
   * Most keys held in the key -> shard LRU cache (`lru-cache`); 0 disables the cache. The hot set in
   * front of it (ADR 0004) holds at most as many again. Default {@link DEFAULT_CACHE_SIZE}. An
   * integer in 0..{@link MAX_CACHE_SIZE} (`shardkit.invalidArgument` otherwise).
   */
  readonly cacheSize?: number;
  /**
   * One hit lru-cache answers in this many (per shard) refreshes the key's recency with its `get`;
   * the others read with `peek`, which leaves its recency list alone, and hits the hot set answers
   * (ADR 0004) refresh nothing. 1 makes the cache an exact LRU, without a hot set.
   * Default {@link DEFAULT_RECENCY_SAMPLE}. A power of two in 1..{@link MAX_RECENCY_SAMPLE}
   * (`shardkit.invalidArgument` otherwise).
   */
  readonly recencySample?: number;
}

/** Counters since the router was built or {@link ShardRouter.resetStats} last ran. */
export interface RouterStats {
  /** Epoch of the topology routed by now. */
  readonly epoch: number;
  /** Lookups answered from the cache. */
  readonly hits: number;
  /** Lookups that hashed the key and searched the ring. */
  readonly misses: number;
  /** Keys in the cache now. */
  readonly cached: number;
  /** Keys in the hot set in front of the cache now (at most `cacheSize`; ADR 0004). */
  readonly hot: number;
  /**
   * True while a lookup the hot set misses asks the cache only 1 time in 8, because over the last
   * window the cache answered fewer than half of those that asked it (ADR 0004).
   */
  readonly cacheSampled: boolean;
  /** True while the cache is bypassed because too few lookups hit it (see {@link ShardRouter}). */
  readonly cacheBypassed: boolean;
  /** Lookups routed to each shard id, over every epoch since the last reset. */
  readonly perShard: Record<string, number>;
}

/**
 * lru-cache's `peek` options, one object for every hit. `allowStale` spares the per-entry staleness
 * check (a call through a per-cache closure; the router sets no TTL, so nothing is ever stale), and
 * one object with a fixed shape spares a fresh options object per call. lru-cache writes `status`
 * into it; the hit path resets it so a diagnostics subscriber still gets a fresh status per call.
 */
const PEEK: LRUCache.PeekOptions<string, number, unknown> = { allowStale: true, status: undefined };

/**
 * Routes keys to shards over a consistent-hash {@link Ring}, with an admission-filtered cache
 * (`lru-cache`, keyed by the key string, holding shard indices) in front of the ring lookup.
 *
 * Caching: strings and safe integers are cached under their string form (`42` and `"42"` hash and
 * route alike, so they may share an entry). Bigints, bytes and ObjectIds are routed through their
 * canonical bytes every time and never cached: their string form would cost as much to build as the
 * lookup it saves. Any string is a safe cache key, `__proto__` included (lru-cache keeps keys in a `Map`).
 *
 * Hits: a lookup asks the hot set first (a `Map` of the keys the cache answered lately, at most
 * `cacheSize`; ADR 0004), then reads lru-cache with `peek`, refreshing the key's recency with `get`
 * on one of its hits in {@link ShardRouterOptions.recencySample} per shard (sampled recency) and
 * promoting the key to the hot set. A hit does no other bookkeeping than its shard's count, from
 * which hits are derived. When over a window lru-cache answered fewer than half of the lookups the
 * hot set missed, only 1 in 8 of them asks it the next window; the others hash and search, as
 * misses, since a probe of a `Map` that lacks the key costs about what such a hit saves.
 *
 * Cold workloads: a key enters the cache only on its second sighting (a doorkeeper bitset indexed
 * by the ring point), and when fewer than a quarter of lookups hit the cache over a window of
 * 8192 misses, the router bypasses it (probing one lookup in 64) until the hit rate recovers, so a
 * scan of distinct keys costs about what an uncached lookup costs.
 *
 * Epochs: {@link ShardRouter.setTopology} installs a newer topology's ring together with a fresh,
 * empty cache in one assignment; an equal or older epoch is refused, so a router never goes back.
 */
export class ShardRouter {
  #state: EpochState;
  readonly #cacheSize: number;
  readonly #recencySample: number;
  /** Hits and misses of earlier epochs since the last reset. */
  #pastHits = 0;
  #pastMisses = 0;
  /** Per-shard lookups of earlier epochs (and of this one up to the last fold). */
  #carried = new Map<string, number>();

  private constructor(state: EpochState, cacheSize: number, recencySample: number) {
    this.#state = state;
    this.#cacheSize = cacheSize;
    this.#recencySample = recencySample;
  }

  /**
   * A router over a topology (validated with `Topology.from` if it is a plain object).
   *
   * @throws ShardkitInvalidArgumentError for a bad `cacheSize` or `recencySample`; the topology's
   * validation errors.
   */
  static fromTopology(t: Topology | TopologySpec, opts: ShardRouterOptions = {}): ShardRouter {
    optionalObject(opts, 'ShardRouter.fromTopology(t, options): options');
    const cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 0 || cacheSize > MAX_CACHE_SIZE) {
      throw new ShardkitInvalidArgumentError(`cacheSize must be an integer in 0..${MAX_CACHE_SIZE} (got ${String(cacheSize)})`);
    }
    const recencySample = opts.recencySample ?? DEFAULT_RECENCY_SAMPLE;
    if (!Number.isSafeInteger(recencySample) || recencySample < 1 || recencySample > MAX_RECENCY_SAMPLE || (recencySample & (recencySample - 1)) !== 0) {
      throw new ShardkitInvalidArgumentError(`recencySample must be a power of two in 1..${MAX_RECENCY_SAMPLE} (got ${String(recencySample)})`);
    }
    const topology = Topology.from(t);
    return new ShardRouter(new EpochState(topology, Ring.fromTopology(topology), cacheSize, recencySample), cacheSize, recencySample);
  }

  /** The ring routed by now. */
  get ring(): Ring {
    return this.#state.ring;
  }

  /** The topology routed by now. */
  get topology(): Topology {
    return this.#state.topology;
  }

  /** Epoch of the topology routed by now. */
  get epoch(): number {
    return this.#state.topology.epoch;
  }

  /** The cache capacity this router was built with (0: no cache). */
  get cacheSize(): number {
    return this.#cacheSize;
  }

  /**
   * Id of the shard that owns `key`.
   *
   * @throws ShardkitInputError `shardkit.key.invalid` when `key` is not a {@link ShardKey}.
   */
  route(key: ShardKey): string {
    // The hot path, in one small function so that a hot-set hit makes no call of the router's own
    // (and V8 may inline it into its caller): a hit bumps its shard's count; a bypassed or uncached
    // lookup counts down to its next probe, then hashes and searches inline. Lookups the hot set
    // misses, probes and other key types are out of line.
    if (typeof key !== 'string') return this.#routeOther(key);
    const s = this.#state;
    const front = s.front;
    if (front !== undefined) {
      const hot = s.hot.get(key);
      if (hot !== undefined) {
        s.counts[hot]!++;
        return s.ids[hot]!;
      }
      return this.#notHot(s, front, key);
    }
    if (--s.countdown === 0) return this.#probe(s, key);
    const owner = s.owners[s.ring.locate(s.hash.pointOfString(key))]!;
    s.counts[owner]!++;
    return s.ids[owner]!;
  }

  /** Id of the shard that owns a string key: {@link ShardRouter.route} without the type check's other branches. */
  routeString(key: string): string {
    return this.route(key);
  }

  /** Safe integers route as their string form; bigints, bytes and ObjectIds by their canonical bytes, never cached. */
  #routeOther(key: ShardKey): string {
    if (typeof key === 'number' && Number.isSafeInteger(key)) return this.route(String(key));
    const s = this.#state;
    // Validation of everything else happens in hash.point (canonicalKeyBytes).
    const owner = s.owners[s.ring.locate(s.hash.point(key))]!;
    s.counts[owner]!++;
    // A miss: while caching the segment counts its misses; while bypassing every lookup but a
    // probe hit is one already.
    if (s.front !== undefined) s.segmentCount++;
    return s.ids[owner]!;
  }

  /**
   * A lookup the hot set missed and lru-cache did not answer: search the ring and end the window when
   * its misses are used up. One that `asked` lru-cache (and found nothing) admits the key on its
   * second sighting; one the sample passed over (`LRU_SAMPLE`, epoch-state.ts) admits nothing, since
   * lru-cache may hold its key and would only set it again.
   */
  #miss(s: EpochState, key: string, asked: boolean): string {
    s.segmentCount++;
    const point = s.hash.pointOfString(key);
    const owner = s.owners[s.ring.locate(point)]!;
    s.counts[owner]!++;
    if (asked) {
      s.lruMisses++;
      if (s.door!.seen(point)) s.cache!.set(key, owner);
    }
    if (--s.tick === 0) s.adapt();
    return s.ids[owner]!;
  }

  /**
   * A lookup the hot set missed while caching: lru-cache is asked (by 1 lookup in `LRU_SAMPLE` while
   * sampling); a hit there peeks, bumps its shard's count (which also samples when it refreshes the
   * key's recency) and promotes the key to the hot set.
   */
  #notHot(s: EpochState, front: LRUCache<string, number>, key: string): string {
    // Kept an int32 (a small integer to V8), wrapping after 2^31 misses; only its low bits count.
    const turn = (s.lruTurn + 1) | 0;
    s.lruTurn = turn;
    if ((turn & s.lruMask) !== 0) return this.#miss(s, key, false);
    const cached = front.peek(key, PEEK);
    PEEK.status = undefined;
    if (cached !== undefined) {
      s.lruHits++;
      if ((++s.counts[cached]! & s.recencyMask) === 0) front.get(key);
      s.promote(key, cached);
      return s.ids[cached]!;
    }
    return this.#miss(s, key, true);
  }

  /**
   * The lookup the countdown sends out of line: while bypassing, a probe of the cache (so a hot set
   * that comes back is admitted and seen), ending the window on its last probe; without a cache,
   * only a renewed countdown.
   *
   * The probe asks the doorkeeper before the cache: a key it has not seen lately is marked and
   * counted as a miss without a look into lru-cache's `Map`, which costs several uncached lookups
   * for a key it lacks (a bucket of keys scattered over the heap). Admission is as on any miss: a
   * key seen before is admitted; one seen and cached is a hit.
   */
  #probe(s: EpochState, key: string): string {
    if (s.cache === undefined) {
      s.countdown = NO_PROBE;
      return this.route(key);
    }
    s.countdown = PROBE_EVERY;
    const point = s.hash.pointOfString(key);
    const owner = s.owners[s.ring.locate(point)]!;
    s.counts[owner]!++;
    if (s.door!.seen(point)) {
      // get, not peek: a probe hit refreshes the key like a hit of an exact LRU.
      if (s.cache.get(key) !== undefined) {
        s.segmentCount++;
        s.windowProbeHits++;
      } else {
        s.cache.set(key, owner);
      }
    }
    if (--s.tick === 0) s.adapt();
    return s.ids[owner]!;
  }

  /**
   * The key's ring point under the current topology's hash (the `_h` a document stores).
   *
   * @throws ShardkitInputError `shardkit.key.invalid` when `key` is not a {@link ShardKey}.
   */
  point(key: ShardKey): number {
    return this.#state.hash.point(key);
  }

  /**
   * Route by a newer topology from now on. The ring is built first; only then are ring, topology and
   * an empty cache installed together, so a failure leaves the router as it was and no lookup after
   * the call can see an entry cached under the previous epoch.
   *
   * @throws ShardkitConflictError `shardkit.topology.staleEpoch` when `t.epoch` is not newer than
   * {@link ShardRouter.epoch}; the topology's validation errors.
   */
  setTopology(t: Topology | TopologySpec): void {
    const topology = Topology.from(t);
    const current = this.epoch;
    if (topology.epoch <= current) {
      throw new ShardkitConflictError(
        ErrorCode.staleEpoch,
        `topology epoch ${topology.epoch} is not newer than the router's epoch ${current}`,
      );
    }
    const next = new EpochState(topology, Ring.fromTopology(topology), this.#cacheSize, this.#recencySample);
    this.#fold();
    this.#state = next;
  }

  /** Counters since the router was built or last reset. */
  stats(): RouterStats {
    const perShard = new Map(this.#carried);
    const s = this.#state;
    s.ids.forEach((id, i) => perShard.set(id, (perShard.get(id) ?? 0) + s.counts[i]!));
    return {
      epoch: this.epoch,
      hits: this.#pastHits + s.hits(),
      misses: this.#pastMisses + s.missCount(),
      cached: s.cache?.size ?? 0,
      hot: s.hot.size,
      cacheBypassed: s.bypass,
      cacheSampled: s.sampled,
      // fromEntries defines own data properties, so no shard id can reach Object.prototype.
      perShard: Object.fromEntries(perShard),
    };
  }

  /** Zero every counter (the cache is kept). */
  resetStats(): void {
    this.#pastHits = 0;
    this.#pastMisses = 0;
    this.#carried = new Map();
    this.#state.resetCounters();
  }

  #fold(): void {
    const s = this.#state;
    s.ids.forEach((id, i) => this.#carried.set(id, (this.#carried.get(id) ?? 0) + s.counts[i]!));
    this.#pastHits += s.hits();
    this.#pastMisses += s.missCount();
    s.resetCounters();
  }
}
