import { ErrorCode, ShardkitConflictError, ShardkitInvalidArgumentError } from '../errors.js';
import type { RingHash, ShardKey } from '../hash/types.js';
import { Ring } from '../ring/ring.js';
import { Topology } from '../topology/topology.js';
import type { TopologySpec } from '../topology/types.js';
import { LRUCache } from 'lru-cache';
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
   * front of it (ADR 0004) holds at most as many again. Default {@link DEFAULT_CACHE_SIZE}. An integer in 0..{@link MAX_CACHE_SIZE} (`shardkit.invalidArgument`
   * otherwise).
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
 * Length of an adaptation window: WINDOW misses while caching, WINDOW lookups while bypassing.
 * Counting a caching window in misses keeps hits free of window bookkeeping (its lookups are read
 * from the per-shard counts when it ends), and it still spans at least WINDOW lookups.
 */
const WINDOW = 8192;
/**
 * While bypassing, one lookup in PROBE_EVERY still goes through the cache to watch its hit rate.
 * A probe of a key the cache does not hold costs several uncached lookups (lru-cache's `Map` walks
 * a bucket of keys scattered over the heap): measured on the cold benchmark, probing 1 lookup in
 * 16 cost 23 ns per lookup over the uncached path, 1 in 64 cost 7 ns, and about 1.5 ns once a
 * probe asks the doorkeeper before the cache (ShardRouter's probe). 128 probes per window still
 * tell a 25% hit rate from none.
 */
const PROBE_EVERY = 64;
/** Probes in a bypassing window (WINDOW lookups). */
const WINDOW_PROBES = WINDOW / PROBE_EVERY;
/**
 * Without a cache the inline path still counts down (it is the bypassing path, minus the probes):
 * it reaches the slow path once in this many lookups, which only renews the count.
 */
const NO_PROBE = 2 ** 30;
/**
 * Below this hit rate the cache costs more than it saves. A miss costs a probe of a full LRU on
 * top of the uncached lookup (hash + ring search), a hit saves the uncached lookup: measured
 * (bench/routing.ts) a miss's extra cost is about half an uncached lookup, so the break-even hit
 * rate is about 1/3; 1/4 leaves a margin for caches that are only warming up.
 */
const MIN_HIT_RATE = 1 / 4;

/**
 * While caching with a hot set, a lookup the hot set misses asks lru-cache only 1 in LRU_SAMPLE times
 * in a window after one in which lru-cache answered fewer than {@link MIN_LRU_HIT_RATE} of the
 * lookups that asked it (ADR 0004, "Asking lru-cache by sample"). Asking it costs a probe of its `Map`,
 * which for a key it lacks walks a bucket of keys scattered over the heap; on a skewed workload the
 * keys it answers besides the hot set's are few, and the probes of the others cost more than those
 * answers save. A lookup not sent to it hashes its key and searches the ring, as a miss does.
 */
const LRU_SAMPLE = 8;
/** See {@link LRU_SAMPLE}: measured, 0.21 on Zipf(0.99) over 2^20 keys, about 1 when the keys fit the cache. */
const MIN_LRU_HIT_RATE = 1 / 2;

/**
 * lru-cache's `peek` options, one object for every hit. `allowStale` spares the per-entry staleness
 * check (a call through a per-cache closure; the router sets no TTL, so nothing is ever stale), and
 * one object with a fixed shape spares a fresh options object per call. lru-cache writes `status`
 * into it; the hit path resets it so a diagnostics subscriber still gets a fresh status per call.
 */
const PEEK: LRUCache.PeekOptions<string, number, unknown> = { allowStale: true, status: undefined };

/**
 * Everything that belongs to one epoch, swapped as one object so that a lookup never pairs one
 * epoch's ring with another epoch's cache: the cache holds shard *indices* into this ring.
 *
 * Hits and misses are not both counted: every lookup counts once for its shard, and the lookups
 * of a *segment* (a run of windows in one mode) are split by one counter kept on a slow path:
 * its misses while caching (the rest hit), its probe hits while bypassing (the rest missed).
 */
class EpochState {
  readonly topology: Topology;
  readonly ring: Ring;
  readonly hash: RingHash;
  readonly owners: Uint8Array | Uint16Array;
  readonly ids: readonly string[];
  /** Lookups routed to each shard: every lookup counts once here, hit or miss. */
  readonly counts: Float64Array;
  readonly cache: LRUCache<string, number> | undefined;
  readonly door: Doorkeeper | undefined;
  /**
   * Sampled recency (as Redis's sampled LRU and Caffeine's read buffers approximate recency): a hit
   * whose shard count, bumped by every lookup anyway, has these low bits clear refreshes its key
   * with `get`; every other hit reads with `peek`. A key hit often is refreshed in proportion to its
   * hits; a key hit rarely drifts to the old end and is evicted sooner.
   */
  readonly recencyMask: number;
  /**
   * The cache while lookups go through it; `undefined` while bypassing or without a cache, so one
   * load and one test decide whether a lookup probes it.
   */
  front: LRUCache<string, number> | undefined;
  /**
   * The hot set (ADR 0004): the keys the cache answered lately, in a plain `Map` asked before the
   * cache (one hash-table probe per hit, where lru-cache's `peek` adds its index and value arrays
   * and a call). A hit the cache answers promotes its key here; the set starts afresh, empty, when
   * it holds {@link EpochState.hotMax} keys. Its hits count like the cache's and refresh no recency.
   * It belongs to this epoch like the cache, whose shard indices it holds.
   */
  hot = new Map<string, number>();
  /**
   * Most keys in {@link EpochState.hot}: as many as the cache; 0 (no hot set) for an exact LRU
   * (`recencySample` 1), whose every hit must refresh its key, and for a cache of fewer than 4 keys.
   */
  readonly hotMax: number;
  /**
   * Lookups the inline uncached path takes before the next one goes out of line: to the next probe
   * while bypassing, {@link NO_PROBE} without a cache.
   */
  countdown = NO_PROBE;
  /** Misses left in the current window while caching; probes left in it while bypassing. */
  tick = WINDOW;
  /** This segment's misses while caching, its probe hits while bypassing. */
  segmentCount = 0;
  /** Probe hits of the current window while bypassing. */
  windowProbeHits = 0;
  /**
   * 0 while every lookup the hot set misses asks lru-cache; LRU_SAMPLE - 1 while only the one whose
   * {@link EpochState.lruTurn} has these low bits clear does ({@link LRU_SAMPLE}).
   */
  lruMask = 0;
  /** The hot set's misses while caching, counted to pick those that ask lru-cache. */
  lruTurn = 0;
  /** Lookups of the current window that asked lru-cache and found their key, and that did not. */
  lruHits = 0;
  lruMisses = 0;
  #segmentStart = 0;
  #windowStart = 0;
  #pastHits = 0;
  #pastMisses = 0;

  constructor(topology: Topology, ring: Ring, cacheSize: number, recencySample: number) {
    this.topology = topology;
    this.ring = ring;
    this.hash = ring.hash;
    this.owners = ring.owners;
    // A plain copy: element loads from a frozen array are slower on the hot path.
    this.ids = [...ring.shardIds];
    this.counts = new Float64Array(ring.shardIds.length);
    this.cache = cacheSize > 0 ? new LRUCache<string, number>({ max: cacheSize }) : undefined;
    this.door = cacheSize > 0 ? new Doorkeeper(cacheSize) : undefined;
    this.recencyMask = recencySample - 1;
    this.front = this.cache;
    this.hotMax = recencySample === 1 || cacheSize < 4 ? 0 : cacheSize;
  }

  /** A hit the cache answered: into the hot set, which starts afresh when full. */
  promote(key: string, owner: number): void {
    if (this.hotMax === 0) return;
    if (this.hot.size >= this.hotMax) this.hot = new Map();
    this.hot.set(key, owner);
  }

  /** True while the cache is bypassed because too few lookups hit it (a scan, a cold workload). */
  get bypass(): boolean {
    return this.cache !== undefined && this.front === undefined;
  }

  /** Every lookup routed by this state: each one counts once for its shard. */
  lookups(): number {
    let n = 0;
    for (const c of this.counts) n += c;
    return n;
  }

  /** Lookups of the current segment that {@link EpochState.segmentCount} does not count. */
  #segmentRest(): number {
    return this.lookups() - this.#segmentStart - this.segmentCount;
  }

  /** Lookups that searched the ring. */
  missCount(): number {
    return this.#pastMisses + (this.front !== undefined ? this.segmentCount : this.#segmentRest());
  }

  /** Lookups answered from the cache. */
  hits(): number {
    return this.#pastHits + (this.front !== undefined ? this.#segmentRest() : this.segmentCount);
  }

  /** Zero the counters (the cache, the bypass state and the window's progress are kept). */
  resetCounters(): void {
    const lookups = this.lookups();
    this.counts.fill(0);
    this.#windowStart -= lookups;
    this.#segmentStart = 0;
    this.segmentCount = 0;
    this.#pastHits = 0;
    this.#pastMisses = 0;
  }

  /**
   * End an adaptation window: the hit rate of the lookups that probed the cache decides the next
   * window. Below {@link MIN_HIT_RATE} the cache is bypassed (one lookup in {@link PROBE_EVERY}
   * still probes and admits, so a hot set that comes back is cached again and ends the bypass); at
   * or above it every lookup uses the cache.
   */
  adapt(): void {
    const lookups = this.lookups();
    const caching = this.front !== undefined;
    // A caching window ends on its WINDOW-th miss; a bypassing one on its WINDOW_PROBES-th probe.
    const probes = caching ? lookups - this.#windowStart : WINDOW_PROBES;
    const hits = caching ? probes - WINDOW : this.windowProbeHits;
    const bypass = hits < probes * MIN_HIT_RATE;
    if (bypass === caching) {
      // The mode changes: close the segment, whose lookups the old mode's counter splits.
      this.#pastHits = this.hits();
      this.#pastMisses = this.missCount();
      this.#segmentStart = lookups;
      this.segmentCount = 0;
    }
    this.#windowStart = lookups;
    this.windowProbeHits = 0;
    // Only a caching window asked lru-cache (a bypassing one's probes are not counted here).
    if (caching) {
      const asked = this.lruHits + this.lruMisses;
      this.lruMask = this.hotMax > 0 && this.lruHits < asked * MIN_LRU_HIT_RATE ? LRU_SAMPLE - 1 : 0;
    }
    this.lruHits = 0;
    this.lruMisses = 0;
    this.front = bypass ? undefined : this.cache;
    this.tick = bypass ? WINDOW_PROBES : WINDOW;
    this.countdown = PROBE_EVERY;
  }
}

/**
 * TinyLFU's doorkeeper: one bit per slot, indexed by the low bits of the ring point the lookup has
 * already computed. A key is admitted into the cache only when its bit is already set, i.e. on its
 * second sighting within a window, so a one-off scan of distinct keys costs a bit test per key
 * instead of a cache insertion plus an eviction (and does not flush the hot set). The bits are
 * cleared every `window` new sightings so that stale sightings do not admit forever.
 *
 * Sizing: the window is twice the cache, so any key seen again within two cachefuls of distinct
 * keys is admitted; 16 bits per cache entry (8 per window entry) keeps false admissions of one-off
 * keys at about 6% on average (at most 12% just before a reset).
 */
class Doorkeeper {
  readonly #bits: Int32Array;
  readonly #mask: number;
  readonly #window: number;
  #added = 0;

  constructor(cacheSize: number) {
    // Capped at 2^26 bits (8 MiB): a cache that large admits a few more one-off keys instead.
    const slots = Math.min(2 ** 26, Math.max(1024, 2 ** Math.ceil(Math.log2(cacheSize * 16))));
    this.#bits = new Int32Array(slots >>> 5);
    this.#mask = slots - 1;
    this.#window = cacheSize * 2;
  }

  /** True when the point's slot was marked already; marks it otherwise. */
  seen(point: number): boolean {
    const slot = point & this.#mask;
    const word = slot >>> 5;
    const bit = 1 << (slot & 31);
    const bits = this.#bits;
    if ((bits[word]! & bit) !== 0) return true;
    bits[word] = bits[word]! | bit;
    if (++this.#added >= this.#window) {
      bits.fill(0);
      this.#added = 0;
    }
    return false;
  }
}

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
   * A lookup that probed the cache and missed: search the ring, admit the key on its second
   * sighting, and end the window when its misses are used up.
   */
  #miss(s: EpochState, key: string): string {
    s.segmentCount++;
    s.lruMisses++;
    const id = this.#searchAndAdmit(s, key);
    if (--s.tick === 0) s.adapt();
    return id;
  }

  /**
   * A lookup the hot set missed while caching: lru-cache is asked (by 1 lookup in LRU_SAMPLE while
   * sampling); a hit there peeks, bumps its shard's count (which also samples when it refreshes the
   * key's recency) and promotes the key to the hot set.
   */
  #notHot(s: EpochState, front: LRUCache<string, number>, key: string): string {
    if ((++s.lruTurn & s.lruMask) !== 0) return this.#unasked(s, key);
    const cached = front.peek(key, PEEK);
    PEEK.status = undefined;
    if (cached !== undefined) {
      s.lruHits++;
      if ((++s.counts[cached]! & s.recencyMask) === 0) front.get(key);
      s.promote(key, cached);
      return s.ids[cached]!;
    }
    return this.#miss(s, key);
  }

  /**
   * A lookup the hot set missed that does not ask lru-cache ({@link LRU_SAMPLE}): a miss that admits
   * nothing (only the lookups that ask lru-cache admit, so a key it holds is not set again).
   */
  #unasked(s: EpochState, key: string): string {
    s.segmentCount++;
    const owner = s.owners[s.ring.locate(s.hash.pointOfString(key))]!;
    s.counts[owner]!++;
    if (--s.tick === 0) s.adapt();
    return s.ids[owner]!;
  }

  /** Search the ring for a key that probed the cache and missed; admit it on its second sighting. */
  #searchAndAdmit(s: EpochState, key: string): string {
    const point = s.hash.pointOfString(key);
    const owner = s.owners[s.ring.locate(point)]!;
    s.counts[owner]!++;
    if (s.door!.seen(point)) s.cache!.set(key, owner);
    return s.ids[owner]!;
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
      cacheSampled: s.front !== undefined && s.lruMask !== 0,
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
