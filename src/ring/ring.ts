import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../errors.js';
import { md5Words } from '../hash/ketama.js';
import { ringHash } from '../hash/registry.js';
import type { RingHash, ShardKey } from '../hash/types.js';
import type { Topology } from '../topology/topology.js';
import type { ShardSpec, TopologySpec } from '../topology/types.js';
import { MAX_POINT, RING_SIZE } from './move.js';
import type { Move } from './move.js';
import { balancedTokens } from './placement.js';
import { invalidArgument, requireObject } from '../arguments.js';

/**
 * Smallest ring that gets a jump table. Below this a plain binary search is a handful of steps and
 * the table would cost more bytes per point than the points themselves.
 */
const JUMP_MIN_POINTS = 64;

/** What a ring is built from: everything is copied, nothing is validated beyond shape. */
export interface RingParts {
  readonly epoch: number;
  readonly hash: RingHash;
  /** Index -> shard id; `owners` holds indices into this list. */
  readonly shardIds: readonly string[];
  /** Strictly increasing uint32 points. */
  readonly points: Uint32Array;
  /** Owner index of each point. */
  readonly owners: Uint8Array | Uint16Array;
}

/**
 * A consistent-hash ring: sorted uint32 points and, per point, the index of the shard that owns it.
 *
 * A key at point `h` belongs to the first ring point `>= h`, wrapping to the first point (hashring /
 * ketama semantics), so the arc of point `i` is `(points[i-1], points[i]]` and the arc of point 0
 * also takes everything above the last point.
 *
 * Memory: 4 bytes per point, 1 (up to 256 shards) or 2 bytes of owner index, and for rings of
 * {@link JUMP_MIN_POINTS}+ points a jump table over the top bits of at most 2 bytes per point and
 * one sentinel point: never more than 8 bytes per vnode. Instances are immutable.
 *
 * Lookup: the jump table narrows the search to one bucket of the top bits. Below 2^16 points its
 * entries are 16-bit, so the same 2 bytes per point buy twice the buckets (at most one bucket per
 * point, about 1.5 points each on average). Within the bucket the search steps over the points
 * below the key without branching (see {@link Ring.locate}).
 */
export class Ring {
  /** Epoch of the topology the ring was built from. */
  readonly epoch: number;
  /** Hash that maps keys to points. */
  readonly hash: RingHash;
  /** Index -> shard id, every shard of the topology (draining ones own no point). */
  readonly shardIds: readonly string[];
  /** Sorted, distinct ring points. */
  readonly points: Uint32Array;
  /** `owners[i]` is the index in {@link Ring.shardIds} of the shard owning `points[i]`. */
  readonly owners: Uint8Array | Uint16Array;
  /**
   * `#jump[b]` is the index of the first point `>= b << #shift`; `#jump[2^k]` is the point count.
   * A lookup binary-searches only between two adjacent entries.
   */
  readonly #jump: Uint16Array | Uint32Array | undefined;
  readonly #shift: number;
  /**
   * The points followed by a sentinel 0xffffffff (with a jump table; the points themselves
   * without): no key point is above the sentinel, so the search within a bucket stops by itself at
   * the end of the ring and needs no bounds test.
   */
  readonly #padded: Uint32Array;
  readonly #count: number;

  /**
   * Build a ring from prepared parts (tests and tools); {@link Ring.fromTopology} is the usual way.
   * Throws `shardkit.invalidArgument` when points are not strictly increasing uint32 or an owner
   * index is out of range, and `shardkit.topology.noShards` for a ring without points.
   */
  constructor(parts: RingParts) {
    requireObject(parts, 'new Ring(parts): parts', 'an object with points, owners and shardIds (or use Ring.fromTopology)');
    const { points, owners, shardIds } = parts;
    if (!(points instanceof Uint32Array)) throw invalidArgument('new Ring(parts): parts.points', 'a Uint32Array', points);
    if (!(owners instanceof Uint8Array || owners instanceof Uint16Array)) throw invalidArgument('new Ring(parts): parts.owners', 'a Uint8Array or Uint16Array', owners);
    if (!Array.isArray(shardIds)) throw invalidArgument('new Ring(parts): parts.shardIds', 'an array of shard ids', shardIds);
    if (points.length !== owners.length) {
      throw new ShardkitInvalidArgumentError(`points (${points.length}) and owners (${owners.length}) differ in length`);
    }
    if (points.length === 0) {
      throw new ShardkitInputError(ErrorCode.topologyNoShards, 'the ring has no points: no shard owns any part of the hash space');
    }
    for (let i = 0; i < points.length; i++) {
      if (i > 0 && points[i]! <= points[i - 1]!) {
        throw new ShardkitInvalidArgumentError(`ring points must be strictly increasing (index ${i})`);
      }
      if (owners[i]! >= shardIds.length) throw new ShardkitInvalidArgumentError(`owner index ${owners[i]} at point ${i} is out of range`);
    }
    this.epoch = parts.epoch;
    this.hash = parts.hash;
    this.shardIds = Object.freeze([...shardIds]);
    this.owners = owners;
    this.#count = points.length;
    if (points.length >= JUMP_MIN_POINTS) {
      const padded = new Uint32Array(points.length + 1);
      padded.set(points);
      padded[points.length] = MAX_POINT;
      this.#padded = padded;
      this.points = padded.subarray(0, points.length);
      const k = jumpBits(points.length, owners.BYTES_PER_ELEMENT);
      this.#shift = 32 - k;
      this.#jump = buildJump(points, k);
    } else {
      this.#padded = points;
      this.points = points;
      this.#shift = 32;
      this.#jump = undefined;
    }
    Object.freeze(this);
  }

  /**
   * The ring of a topology.
   *
   * - `hashed` + `xxhash32`: shard `s` has the points `hash("<id>#<i>")` for
   *   `i < Math.round(vnodes * weight)`; equal points go to the smaller id (by UTF-16 code units), so
   *   a shard's points and the ties it wins depend only on itself.
   * - `hashed` + `ketama`: exactly hashring 3.x's continuum for `new HashRing({id: weight, ...}, 'md5',
   *   {'vnode count': vnodes})` over the shards that are not draining: `vnodes` is hashring's
   *   `vnode count` (md5 digests for a shard of average weight, 4 points each), so `vnodes: 40` is
   *   hashring's and libketama's default of 160 points per server.
   * - `balanced`: the shards' stored tokens; shards without tokens get them from `balancedTokens`
   *   (the same tokens `withBalancedTokens` would store).
   *
   * Draining shards stay in {@link Ring.shardIds} but own no point.
   */
  static fromTopology(t: Topology | TopologySpec): Ring {
    requireObject(t, 'Ring.fromTopology(topology): topology', 'a Topology or a topology spec');
    const hash = ringHash(t.hash);
    const shardIds = t.shards.map((s) => s.id);
    let built: { points: Uint32Array; owners: Uint8Array | Uint16Array };
    if (t.placement === 'balanced') {
      built = balancedPoints(t.shards, balancedTokens(t));
    } else if (t.hash === 'ketama') {
      built = ketamaPoints(t.shards, t.vnodes);
    } else {
      built = hashedPoints(t.shards, t.vnodes, hash);
    }
    return new Ring({ epoch: t.epoch, hash, shardIds, ...built });
  }

  /**
   * Index of the first point `>= point`, wrapping to 0 past the last point. `point` must be a uint32
   * (`shardkit.invalidArgument` otherwise).
   */
  locate(point: number): number {
    if (point >>> 0 !== point) throw new ShardkitInvalidArgumentError(`ring point ${point} is not a uint32`);
    const jump = this.#jump;
    if (jump === undefined) return this.#binarySearch(0, this.#count, point);
    const pts = this.#padded;
    // The bucket's first index, then one step per point of the bucket below the key. A step adds
    // the comparison as 0 or 1 instead of branching on it: a bucket holds 0, 1 or 2 such points
    // about equally often, so a branch would be mispredicted on most lookups (measured in
    // bench/routing.ts: the binary search this replaces cost 3x as much). The sentinel stops the
    // steps at the end of the ring; a bucket with more points below the key than three steps take
    // (rare on a hashed ring, possible on hand-made points) ends in a binary search of the bucket.
    const b = point >>> this.#shift;
    let i = jump[b]!;
    i += +(pts[i]! < point);
    i += +(pts[i]! < point);
    i += +(pts[i]! < point);
    if (pts[i]! < point) i = this.#binarySearch(i, jump[b + 1]!, point);
    return i === this.#count ? 0 : i;
  }

  /** First index in `lo..hi` whose point is `>= point` (`hi` when none is), wrapped to 0 at the end of the ring. */
  #binarySearch(lo: number, hi: number, point: number): number {
    const pts = this.#padded;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]! < point) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.#count ? 0 : lo;
  }

  /** Id of the shard owning `point`. */
  ownerOfPoint(point: number): string {
    return this.shardIds[this.owners[this.locate(point)]!]!;
  }

  /** Shard for a key of any {@link ShardKey} type (`shardkit.key.invalid` for anything else). */
  route(key: ShardKey): string {
    return this.shardIds[this.owners[this.locate(this.hash.point(key))]!]!;
  }

  /** Shard for a string key: the hot path. */
  routeString(key: string): string {
    return this.shardIds[this.owners[this.locate(this.hash.pointOfString(key))]!]!;
  }

  /**
   * Up to `n` distinct shards in ring order from the key's point: the owner first, then each new
   * shard met walking clockwise. Fewer than `n` when fewer shards own points.
   */
  preferenceList(key: ShardKey, n: number): string[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new ShardkitInvalidArgumentError(`preferenceList size must be an integer >= 0 (got ${n})`);
    const out: string[] = [];
    if (n === 0) return out;
    const seen = new Uint8Array(this.shardIds.length);
    const len = this.points.length;
    const start = this.locate(this.hash.point(key));
    for (let step = 0; step < len && out.length < n; step++) {
      const owner = this.owners[(start + step) % len]!;
      if (seen[owner] === 0) {
        seen[owner] = 1;
        out.push(this.shardIds[owner]!);
      }
    }
    return out;
  }

  /**
   * Exact number of hash points (out of 2^32) each shard owns, for every shard of the topology,
   * 0 for draining ones. The values sum to 2^32; divide by {@link RING_SIZE} for a fraction.
   */
  arcs(): Map<string, number> {
    const counts = new Float64Array(this.shardIds.length);
    const pts = this.points;
    const n = pts.length;
    counts[this.owners[0]!]! += pts[0]! + RING_SIZE - pts[n - 1]!;
    for (let i = 1; i < n; i++) counts[this.owners[i]!]! += pts[i]! - pts[i - 1]!;
    const out = new Map<string, number>();
    this.shardIds.forEach((id, i) => out.set(id, counts[i]!));
    return out;
  }

  /**
   * The hash space whose owner differs between this ring and `other`, as non-wrapping, merged
   * {@link Move}s in ascending order, from this ring's owner to `other`'s. Exact: a point changes
   * owner iff it lies in one of the moves.
   */
  diff(other: Ring): Move[] {
    const a = this.points;
    const b = other.points;
    const moves: Move[] = [];
    let ia = 0;
    let ib = 0;
    let prev = -1;
    // Walk the union of both point sets plus the top of the space: between two consecutive
    // breakpoints each ring has a single owner, the one of its first point at or after the interval.
    while (prev < MAX_POINT) {
      const pa = ia < a.length ? a[ia]! : MAX_POINT;
      const pb = ib < b.length ? b[ib]! : MAX_POINT;
      const end = Math.min(pa, pb);
      const from = this.shardIds[this.owners[ia < a.length ? ia : 0]!]!;
      const to = other.shardIds[other.owners[ib < b.length ? ib : 0]!]!;
      if (from !== to) {
        const last = moves[moves.length - 1];
        if (last !== undefined && last.end === prev && last.from === from && last.to === to) {
          moves[moves.length - 1] = { start: last.start, end, from, to };
        } else {
          moves.push({ start: prev, end, from, to });
        }
      }
      if (ia < a.length && pa === end) ia++;
      if (ib < b.length && pb === end) ib++;
      prev = end;
    }
    return moves;
  }

  /** Bytes held by the ring's typed arrays (points with their sentinel, owners, jump table). */
  byteSize(): number {
    return this.#padded.byteLength + this.owners.byteLength + (this.#jump?.byteLength ?? 0);
  }
}

/**
 * Bits of the jump table's bucket index for a ring of `n` points: 2^k <= n buckets of 2 bytes
 * (indices below 2^16), or 2^k <= n/2 buckets of 4 bytes for larger rings, so at most 2 bytes of
 * table per point; one bit less where the table's extra entry and the sentinel would take a ring
 * of 2-byte owners past 8 bytes per point.
 */
function jumpBits(n: number, ownerBytes: number): number {
  const small = n < 2 ** 16;
  const entry = small ? 2 : 4;
  let k = Math.min(24, Math.floor(Math.log2(n)) - (small ? 0 : 1));
  while (k > 1 && (4 + ownerBytes) * n + 4 + (2 ** k + 1) * entry > 8 * n) k--;
  return k;
}

function buildJump(points: Uint32Array, k: number): Uint16Array | Uint32Array {
  const buckets = 2 ** k;
  const shift = 32 - k;
  // Entries run up to points.length, which a 16-bit entry holds below 2^16 points.
  const jump = points.length < 2 ** 16 ? new Uint16Array(buckets + 1) : new Uint32Array(buckets + 1);
  let i = 0;
  for (let b = 0; b < buckets; b++) {
    const floor = b * 2 ** shift;
    while (i < points.length && points[i]! < floor) i++;
    jump[b] = i;
  }
  jump[buckets] = points.length;
  return jump;
}

function ownerArray(shardCount: number, length: number): Uint8Array | Uint16Array {
  return shardCount <= 256 ? new Uint8Array(length) : new Uint16Array(length);
}

/**
 * Stable LSD radix sort of points (11 bits a pass) carrying each point's rank, then keep, for each
 * point, its first entry. Callers emit points in rank order, so among equal points the lowest rank
 * wins: that is the tie-break. About 4x faster than sorting packed float64 keys on 160k points,
 * which is what keeps a 1000-shard ring build within budget.
 */
function sortPoints(keys: Uint32Array, ranks: Uint16Array, rankToShard: ArrayLike<number>, shardCount: number): {
  points: Uint32Array;
  owners: Uint8Array | Uint16Array;
} {
  const n = keys.length;
  let k1: Uint32Array = keys;
  let r1: Uint16Array = ranks;
  let k2: Uint32Array = new Uint32Array(n);
  let r2: Uint16Array = new Uint16Array(n);
  const count = new Uint32Array(2048);
  for (let shift = 0; shift < 32; shift += 11) {
    count.fill(0);
    for (let i = 0; i < n; i++) count[(k1[i]! >>> shift) & 2047]!++;
    let sum = 0;
    for (let b = 0; b < 2048; b++) {
      const c = count[b]!;
      count[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const key = k1[i]!;
      const at = count[(key >>> shift) & 2047]!++;
      k2[at] = key;
      r2[at] = r1[i]!;
    }
    const tk = k1;
    k1 = k2;
    k2 = tk;
    const tr = r1;
    r1 = r2;
    r2 = tr;
  }
  const points = k2; // reused as the output: its contents are scratch by now
  const owners = ownerArray(shardCount, n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const p = k1[i]!;
    if (m > 0 && points[m - 1] === p) continue;
    points[m] = p;
    owners[m] = rankToShard[r1[i]!]!;
    m++;
  }
  return m === n ? { points, owners } : { points: points.slice(0, m), owners: owners.slice(0, m) };
}

/** Shard indices of the non-draining shards, in topology order. */
function activeIndices(shards: readonly ShardSpec[]): number[] {
  const out: number[] = [];
  shards.forEach((s, i) => {
    if (s.draining !== true) out.push(i);
  });
  return out;
}

function hashedPoints(shards: readonly ShardSpec[], vnodes: number, hash: RingHash) {
  const active = activeIndices(shards);
  // Rank by id so a tie between two shards is decided by their ids alone.
  const byId = [...active].sort((x, y) => {
    const a = shards[x]!.id;
    const b = shards[y]!.id;
    return a < b ? -1 : a > b ? 1 : 0;
  });
  let total = 0;
  for (const i of byId) total += Math.round(vnodes * shards[i]!.weight);
  const keys = new Uint32Array(total);
  const ranks = new Uint16Array(total);
  let at = 0;
  byId.forEach((shardIndex, rank) => {
    const shard = shards[shardIndex]!;
    const count = Math.round(vnodes * shard.weight);
    const prefix = `${shard.id}#`;
    ranks.fill(rank, at, at + count);
    for (let i = 0; i < count; i++) keys[at++] = hash.pointOfString(prefix + i);
  });
  return sortPoints(keys, ranks, byId, shards.length);
}

/** True for a key that `Object.keys` lists first, in numeric order: a canonical array index. */
function isArrayIndex(id: string): boolean {
  return /^(?:0|[1-9][0-9]*)$/.test(id) && Number(id) < 2 ** 32 - 1;
}

/**
 * hashring 3.2.0's continuum (`HashRing.prototype.continuum`), point for point. Servers are taken in
 * `Object.keys` order of the `{id: weight}` object hashring is given (array-index ids first, in
 * numeric order), because that order decides both the float64 sum of weights and which server
 * wins a tie (hashring's sort is stable, so the earlier-inserted point wins).
 */
function ketamaPoints(shards: readonly ShardSpec[], vnodes: number) {
  const active = activeIndices(shards);
  const indexLike = active.filter((i) => isArrayIndex(shards[i]!.id)).sort((x, y) => Number(shards[x]!.id) - Number(shards[y]!.id));
  const order = [...indexLike, ...active.filter((i) => !isArrayIndex(shards[i]!.id))];
  const weightSum = order.reduce((sum, i) => sum + shards[i]!.weight, 0);
  const servers = order.length;
  const lengths = order.map((i) => Math.floor((shards[i]!.weight / weightSum) * vnodes * servers));
  const total = lengths.reduce((s, l) => s + l, 0) * 4;
  const keys = new Uint32Array(total);
  const ranks = new Uint16Array(total);
  const words = new Uint32Array(4);
  let at = 0;
  order.forEach((shardIndex, rank) => {
    const prefix = `${shards[shardIndex]!.id}-`;
    const length = lengths[rank]!;
    ranks.fill(rank, at, at + length * 4);
    for (let i = 0; i < length; i++) {
      md5Words(prefix + i, words);
      keys[at++] = words[0]!;
      keys[at++] = words[1]!;
      keys[at++] = words[2]!;
      keys[at++] = words[3]!;
    }
  });
  return sortPoints(keys, ranks, order, shards.length);
}

function balancedPoints(shards: readonly ShardSpec[], tokens: ReadonlyMap<string, readonly number[]>) {
  const active = activeIndices(shards);
  const byId = [...active].sort((x, y) => {
    const a = shards[x]!.id;
    const b = shards[y]!.id;
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const total = byId.reduce((s, i) => s + (tokens.get(shards[i]!.id)?.length ?? 0), 0);
  const keys = new Uint32Array(total);
  const ranks = new Uint16Array(total);
  let at = 0;
  byId.forEach((shardIndex, rank) => {
    for (const token of tokens.get(shards[shardIndex]!.id) ?? []) {
      ranks[at] = rank;
      keys[at++] = token;
    }
  });
  return sortPoints(keys, ranks, byId, shards.length);
}
