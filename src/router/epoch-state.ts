/**
 * The router's per-epoch cache state (ADR 0004): the ring and cache of one epoch, its hot set, the
 * adaptation windows that decide whether lookups use the cache (and ask lru-cache by sample), and the
 * doorkeeper that admits keys. `ShardRouter` (router.ts) runs the lookups over it.
 */
import { LRUCache } from 'lru-cache';
import type { RingHash } from '../hash/types.js';
import type { Ring } from '../ring/ring.js';
import type { Topology } from '../topology/topology.js';

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
export const PROBE_EVERY = 64;
/** Probes in a bypassing window (WINDOW lookups). */
const WINDOW_PROBES = WINDOW / PROBE_EVERY;
/**
 * Without a cache the inline path still counts down (it is the bypassing path, minus the probes):
 * it reaches the slow path once in this many lookups, which only renews the count.
 */
export const NO_PROBE = 2 ** 30;
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
export const LRU_SAMPLE = 8;
/** See {@link LRU_SAMPLE}: measured, 0.21 on Zipf(0.99) over 2^20 keys, about 1 when the keys fit the cache. */
const MIN_LRU_HIT_RATE = 1 / 2;

/**
 * Everything that belongs to one epoch, swapped as one object so that a lookup never pairs one
 * epoch's ring with another epoch's cache: the cache holds shard *indices* into this ring.
 *
 * Hits and misses are not both counted: every lookup counts once for its shard, and the lookups
 * of a *segment* (a run of windows in one mode) are split by one counter kept on a slow path:
 * its misses while caching (the rest hit), its probe hits while bypassing (the rest missed).
 */
export class EpochState {
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

  /** True while caching and only 1 in {@link LRU_SAMPLE} of the hot set's misses asks lru-cache. */
  get sampled(): boolean {
    return this.front !== undefined && this.lruMask !== 0;
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
