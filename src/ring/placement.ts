import { ShardkitInvalidArgumentError } from '../errors.js';
import { Topology } from '../topology/topology.js';
import type { ShardSpec, TopologyChange, TopologySpec } from '../topology/types.js';
import { RING_SIZE } from './move.js';

/*
 * Balanced placement: tokens are chosen when a shard joins and stored in the topology, so every
 * process rebuilds the same ring, while the load of each shard (its exact share of the 2^32 points)
 * stays within a fraction of a percent of its weight share.
 *
 * Every change is made only by placing tokens of the changed shard, or tokens of other shards
 * inside the changed shard's own arcs, so every key that moves moves to or from the changed shard:
 * - join / reweight up: the shard places tokens inside the largest arcs of the most loaded shards,
 *   each token taking an exact amount (never more than the donor's excess while there are enough
 *   tokens to serve every donor);
 * - remove / drain / reweight down: the shard's arcs (all of them, or its excess) are cut into
 *   pieces handed to the shards most below their share, by tokens inside those arcs only. The
 *   shard just before an arc, or just after it, takes its piece for free (its own token then
 *   becomes redundant, or no token is needed at all).
 * After each change, a token whose next token has the same owner is dropped: it decides nothing.
 *
 * Token counts: a shard gets `round(vnodes * weight)` tokens when it joins (at least 1), plus
 * extra ones while some donor is still more than 1.5% over its target (at most one per donor; a
 * 64-token joiner among 3..100 equal shards ends with 64..70). A shard taking pieces of a removed
 * shard gains about one token per piece, less its tokens that became redundant: removing shards
 * one at a time from 100 (64 vnodes each) leaves 66..68 tokens per shard at 90 shards, 74..79 at
 * 50 and 76..110 at 10, depending on the order of removal.
 */

/** A mutable ring of tokens, used only while a change is being placed. */
class TokenRing {
  readonly pts: number[] = [];
  readonly own: string[] = [];
  readonly load = new Map<string, number>();

  constructor(entries: Array<[number, string]>) {
    entries.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    for (const [p, id] of entries) {
      if (this.pts.length > 0 && this.pts[this.pts.length - 1] === p) continue;
      this.pts.push(p);
      this.own.push(id);
    }
    for (let i = 0; i < this.pts.length; i++) this.addLoad(this.own[i]!, this.arcLen(i));
  }

  get size(): number {
    return this.pts.length;
  }

  loadOf(id: string): number {
    return this.load.get(id) ?? 0;
  }

  addLoad(id: string, delta: number): void {
    this.load.set(id, this.loadOf(id) + delta);
  }

  arcLen(i: number): number {
    const n = this.pts.length;
    return i > 0 ? this.pts[i]! - this.pts[i - 1]! : this.pts[0]! + RING_SIZE - this.pts[n - 1]!;
  }

  /** Exclusive start of the arc of token `i` (for a single token, the token itself). */
  arcStart(i: number): number {
    return i > 0 ? this.pts[i - 1]! : this.pts[this.pts.length - 1]!;
  }

  /** Index of the first token `>= p`, or `size`. */
  lowerBound(p: number): number {
    let lo = 0;
    let hi = this.pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.pts[mid]! < p) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  indexOf(p: number): number {
    const i = this.lowerBound(p);
    if (this.pts[i] !== p) throw new Error(`internal: token ${p} is not on the ring`);
    return i;
  }

  /**
   * Give the first `take` points of the arc of token `i` to `to` (a new token at the cut), or the
   * whole arc (the token changes hands). Returns nothing: loads are kept up to date.
   */
  cut(i: number, take: number, to: string): void {
    const len = this.arcLen(i);
    const from = this.own[i]!;
    if (take >= len) {
      this.own[i] = to;
      this.addLoad(from, -len);
      this.addLoad(to, len);
      return;
    }
    const at = (this.arcStart(i) + take) % RING_SIZE;
    const j = this.lowerBound(at);
    this.pts.splice(j, 0, at);
    this.own.splice(j, 0, to);
    this.addLoad(from, -take);
    this.addLoad(to, take);
  }

  /** Drop token `i`: its arc joins the next token's. */
  removeAt(i: number): void {
    const len = this.arcLen(i);
    const from = this.own[i]!;
    this.pts.splice(i, 1);
    this.own.splice(i, 1);
    const next = i % this.pts.length;
    this.addLoad(from, -len);
    this.addLoad(this.own[next]!, len);
  }

  /** Drop every token whose next token has the same owner; ownership of every point is unchanged. */
  compact(): void {
    const n = this.pts.length;
    if (n < 2) return;
    const keep: boolean[] = [];
    let any = false;
    for (let i = 0; i < n; i++) {
      const k = this.own[i] !== this.own[(i + 1) % n];
      keep.push(k);
      if (!k) any = true;
    }
    // A ring owned by one shard keeps one token.
    if (!keep.includes(true)) keep[n - 1] = true;
    if (!any) return;
    let w = 0;
    for (let i = 0; i < n; i++) {
      if (!keep[i]) continue;
      this.pts[w] = this.pts[i]!;
      this.own[w] = this.own[i]!;
      w++;
    }
    this.pts.length = w;
    this.own.length = w;
  }

  tokensOf(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (let i = 0; i < this.pts.length; i++) {
      const id = this.own[i]!;
      let list = out.get(id);
      if (list === undefined) out.set(id, (list = []));
      list.push(this.pts[i]!);
    }
    return out;
  }
}

/** Target load (points) of each listed shard: its weight share of the ring. */
function targetsOf(shards: readonly ShardSpec[]): Map<string, number> {
  const total = shards.reduce((s, x) => s + x.weight, 0);
  return new Map(shards.map((s) => [s.id, (RING_SIZE * s.weight) / total]));
}

/** Largest excess (a fraction of the target) a join may leave on a shard to save tokens. */
const OVERSHOOT_BELOW = 0.015;

function tokenCount(vnodes: number, weight: number): number {
  return Math.max(1, Math.round(vnodes * weight));
}

/**
 * `id` takes `amount` points from the shards most above their target, with about `tokens` new
 * tokens, each cut from the donor's largest arc.
 */
function absorb(ring: TokenRing, id: string, amount: number, tokens: number, targets: ReadonlyMap<string, number>): void {
  let left = Math.round(amount);
  let used = 0;
  while (left > 0) {
    // The donor is the most loaded shard relative to its target: that is what peak/mean measures.
    let donor: string | undefined;
    let best = 0;
    let bestRatio = 0;
    let withExcess = 0;
    for (const [other, target] of targets) {
      if (other === id) continue;
      const excess = ring.loadOf(other) - target;
      if (excess < 1) continue;
      withExcess++;
      if (excess / target > bestRatio) {
        bestRatio = excess / target;
        best = excess;
        donor = other;
      }
    }
    if (donor === undefined) break;
    const tokensLeft = tokens - used;
    let take = Math.min(left, tokensLeft > 0 ? Math.ceil(left / tokensLeft) : left);
    // No donor gives more than its excess, so all end exactly at their target, while there are
    // tokens enough for every donor (an eighth more than planned) or while a donor is more than
    // OVERSHOOT_BELOW above its target. Past that each token takes its full share (a donor may end
    // below target): the joiner gets its share without a token per donor, and the shards left
    // untouched are at most OVERSHOOT_BELOW above theirs.
    if (tokensLeft <= 0 || tokensLeft + Math.ceil(tokens / 8) >= withExcess || bestRatio > OVERSHOOT_BELOW) {
      take = Math.min(take, Math.floor(best));
    }
    let arc = -1;
    let arcLen = 0;
    for (let i = 0; i < ring.size; i++) {
      if (ring.own[i] !== donor) continue;
      const len = ring.arcLen(i);
      if (len > arcLen) {
        arcLen = len;
        arc = i;
      }
    }
    take = Math.min(take, arcLen);
    ring.cut(arc, take, id);
    left -= take;
    used++;
  }
}

/** The receiver most below its target (ties: first in `targets` order). */
function neediest(ring: TokenRing, except: string, targets: ReadonlyMap<string, number>): { id: string; deficit: number } {
  let id = '';
  let deficit = -Infinity;
  for (const [other, target] of targets) {
    if (other === except) continue;
    const d = target - ring.loadOf(other);
    if (d > deficit) {
      deficit = d;
      id = other;
    }
  }
  return { id, deficit };
}

/**
 * How far above its target a receiver may be pushed to take a piece whole instead of splitting
 * it (which costs a token). 1% keeps peak/mean within 1.01 after a removal while most arcs go
 * whole to a neighbour, whose own token then becomes redundant.
 */
const WHOLE_PIECE_SLACK = 0.01;

/**
 * Hand the first `give` points of the arc ending at token `p` (owned by `id`) to the shards most
 * below target. With `give` equal to the arc, `id`'s token at `p` goes too. Cheapest first: the
 * shard after the arc takes the rest with no token; the shard before it moves its boundary
 * forward (its old token becomes redundant); any other shard needs a token of its own.
 */
function shedArc(ring: TokenRing, id: string, p: number, give: number, targets: ReadonlyMap<string, number>): void {
  const deficit = (shard: string): number => (targets.has(shard) && shard !== id ? targets.get(shard)! - ring.loadOf(shard) : -Infinity);
  const room = (shard: string): number => deficit(shard) + (targets.get(shard) ?? 0) * WHOLE_PIECE_SLACK;
  let i = ring.indexOf(p);
  const whole = give >= ring.arcLen(i);
  let remaining = Math.min(give, ring.arcLen(i));
  while (remaining > 0) {
    i = ring.indexOf(p);
    const single = ring.size === 1;
    const after = single ? '' : ring.own[(i + 1) % ring.size]!;
    const before = single ? '' : ring.own[(i - 1 + ring.size) % ring.size]!;
    // Free moves first, filling the roomier neighbour first so that neither fills up early.
    const afterFits = whole && room(after) >= remaining;
    const beforeFits = room(before) >= remaining;
    if (afterFits && (!beforeFits || room(after) >= room(before))) {
      ring.removeAt(i);
      return;
    }
    let to: string;
    if (beforeFits || deficit(before) >= 1) {
      to = before;
    } else {
      const need = neediest(ring, id, targets);
      if (need.id === '') throw new Error('internal: no shard to receive a shed arc');
      to = need.id;
    }
    const take = room(to) >= remaining || deficit(to) < 1 ? remaining : Math.min(Math.floor(deficit(to)), remaining);
    if (take === remaining && whole) ring.cut(i, ring.arcLen(i), to);
    else ring.cut(i, take, to);
    remaining -= take;
  }
}

/** `id` hands out `amount` of its points; whole arcs first while it has `drop` tokens too many. */
function shed(ring: TokenRing, id: string, amount: number, drop: number, targets: ReadonlyMap<string, number>): void {
  const arcs: Array<{ p: number; len: number }> = [];
  for (let i = 0; i < ring.size; i++) if (ring.own[i] === id) arcs.push({ p: ring.pts[i]!, len: ring.arcLen(i) });
  let left = Math.round(amount);
  arcs.sort((a, b) => a.len - b.len || a.p - b.p);
  // A removal hands out every arc, largest first (first-fit decreasing fills deficits best).
  if (drop === Infinity) arcs.reverse();
  const partial: Array<{ p: number; len: number }> = [];
  for (const arc of arcs) {
    if (drop > 0 && arc.len <= left) {
      shedArc(ring, id, arc.p, arc.len, targets);
      left -= arc.len;
      drop--;
    } else {
      partial.push(arc);
    }
  }
  partial.reverse();
  for (const arc of partial) {
    if (left <= 0) break;
    const give = Math.min(left, arc.len);
    shedArc(ring, id, arc.p, give, targets);
    left -= give;
  }
}

function ringOf(shards: readonly ShardSpec[], tokens: ReadonlyMap<string, readonly number[]>): TokenRing {
  const entries: Array<[number, string]> = [];
  for (const s of shards) for (const t of tokens.get(s.id) ?? s.tokens ?? []) entries.push([t, s.id]);
  return new TokenRing(entries);
}

function lacksTokens(s: ShardSpec): boolean {
  return s.draining !== true && (s.tokens === undefined || s.tokens.length === 0);
}

/**
 * Evenly spaced tokens for a ring that has none yet: each shard gets `round(vnodes * weight)`
 * tokens (at least 1), interleaved in order of `(j + 0.5) / count` so that every shard's tokens are
 * spread around the ring, each owning an arc of `weight share / count`. Loads are exact up to one
 * point per token.
 */
function initialTokens(shards: readonly ShardSpec[], vnodes: number): Map<string, number[]> {
  const total = shards.reduce((s, x) => s + x.weight, 0);
  const slots: Array<{ time: number; order: number; len: number }> = [];
  shards.forEach((s, order) => {
    const count = tokenCount(vnodes, s.weight);
    const len = (RING_SIZE * s.weight) / total / count;
    for (let j = 0; j < count; j++) slots.push({ time: (j + 0.5) / count, order, len });
  });
  slots.sort((a, b) => a.time - b.time || a.order - b.order);
  const out = new Map<string, number[]>(shards.map((s) => [s.id, []]));
  let cum = 0;
  let prev = -1;
  slots.forEach((slot, k) => {
    cum += slot.len;
    let p = k === slots.length - 1 ? RING_SIZE - 1 : Math.round(cum) - 1;
    if (p <= prev) p = prev + 1;
    prev = p;
    out.get(shards[slot.order]!.id)!.push(p);
  });
  return out;
}

/**
 * Tokens of every non-draining shard of a balanced topology, choosing tokens for the shards that
 * have none: all of them at once when no shard has tokens (evenly spaced), otherwise one at a time
 * in file order, each as a join. Deterministic: any process derives the same tokens.
 */
export function balancedTokens(t: TopologySpec): Map<string, number[]> {
  const active = t.shards.filter((s) => s.draining !== true);
  if (active.every((s) => !lacksTokens(s))) return new Map(active.map((s) => [s.id, [...s.tokens!]]));
  if (active.every(lacksTokens)) return initialTokens(active, t.vnodes);
  const placed = active.filter((s) => !lacksTokens(s));
  const ring = ringOf(placed, new Map());
  for (const s of active) {
    if (!lacksTokens(s)) continue;
    placed.push(s);
    const targets = targetsOf(placed);
    absorb(ring, s.id, targets.get(s.id)!, tokenCount(t.vnodes, s.weight), targets);
  }
  ring.compact();
  const tokens = ring.tokensOf();
  return new Map(active.map((s) => [s.id, tokens.get(s.id) ?? []]));
}

/**
 * A balanced topology with tokens filled for its non-draining shards that have none (see
 * {@link balancedTokens}); the same topology when every shard has tokens or placement is `hashed`.
 * The epoch is unchanged: filling tokens is part of the change that created the topology.
 */
export function withBalancedTokens(t: Topology): Topology {
  if (t.placement !== 'balanced' || !t.shards.some(lacksTokens)) return t;
  return t.withTokens(balancedTokens(t));
}

/**
 * `t.with(change)` (epoch + 1), with tokens chosen for `balanced` placement so that every key that
 * moves moves to or from the changed shard and loads stay balanced: a join or a reweight up places
 * new tokens inside the most loaded shards' largest arcs; a removal, a drain or a reweight down
 * hands the shard's arcs (or its excess) to the shards most below their share, by new tokens
 * inside those arcs only. A drained shard keeps no tokens. An added shard that already carries
 * tokens keeps them as given. For `hashed` placement this is `t.with(change)`.
 */
export function applyChange(t: Topology, change: TopologyChange): Topology {
  if (!(t instanceof Topology)) throw new ShardkitInvalidArgumentError('applyChange needs a Topology (use Topology.from)');
  if (t.placement !== 'balanced') return t.with(change);
  const before = withBalancedTokens(t);
  const next = before.with(change);
  const id = change.kind === 'add' ? change.shard.id : change.id;
  const old = before.shard(id);
  const shard = next.shard(id);
  const active = next.activeShards();
  const targets = targetsOf(active);
  const ring = ringOf(before.activeShards(), new Map());
  const tokensById = new Map<string, readonly number[]>();

  switch (change.kind) {
    case 'add':
      if (shard === undefined || !lacksTokens(shard)) return next;
      absorb(ring, id, targets.get(id)!, tokenCount(next.vnodes, shard.weight), targets);
      break;
    case 'remove':
    case 'drain':
      if (old === undefined || old.draining === true) return next;
      shed(ring, id, ring.loadOf(id), Infinity, targets);
      if (change.kind === 'drain') tokensById.set(id, []);
      break;
    case 'reweight': {
      if (old === undefined || shard === undefined || old.draining === true || old.weight === shard.weight) return next;
      const have = ring.loadOf(id);
      const want = targets.get(id)!;
      if (have > want) {
        const count = ring.own.filter((o) => o === id).length;
        shed(ring, id, have - want, count - tokenCount(next.vnodes, shard.weight), targets);
      } else {
        absorb(ring, id, want - have, tokenCount(next.vnodes, shard.weight - old.weight), targets);
      }
      break;
    }
  }
  ring.compact();
  const tokens = ring.tokensOf();
  for (const s of active) tokensById.set(s.id, tokens.get(s.id) ?? []);
  // A draining shard owns nothing; stale tokens of its own could collide with tokens placed now.
  for (const s of next.shards) if (s.draining === true && (s.tokens?.length ?? 0) > 0) tokensById.set(s.id, []);
  return next.withTokens(tokensById);
}
