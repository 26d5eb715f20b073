/**
 * The placement audit behind `shardkit verify`: reads every shard of a routing state and checks that
 * every live document sits on the shard its key routes to, that no `_id` is live on two shards, that
 * every `_h` is the ring point of its shard-key value (its `_id` under shard key `_id`, ADR 0008), and
 * counts shardkit's markers. Pure over `ShardStore`,
 * so it runs on `MemoryStore` (demos, simulations) exactly as on MongoDB.
 *
 * All shards are scanned at once in `(_h, _id)` order and merged by `_h`: copies of one `_id` share
 * an `_h`, so duplicates meet in the merge while memory stays at one batch per shard.
 */
import type { RoutingState } from '../router/routing-state.js';
import { ShardkitInvalidArgumentError } from '../errors.js';
import type { ShardKey } from '../hash/types.js';
import { valueAtPath } from '../hash/key.js';
import { Ring } from '../ring/ring.js';
import { DEFAULT_SHARD_KEY, shardKeyOf } from '../topology/shard-key.js';
import { idKey } from '../stores/bson-order.js';
import { isFence, isFenced, isPlaceholder, isTombstone } from '../stores/markers.js';
import type { HashRange, RangeCursor, ShardStore, StoredDocument } from '../stores/shard-store.js';
import { requireObject } from '../arguments.js';

/** The whole hash space as one range. */
const EVERYTHING: HashRange = { start: -1, end: 0xffffffff };

/** Options of {@link auditPlacement}. */
export interface PlacementAuditOptions {
  /** The routing state to check against (stable: R; migrating: R1 and R2). */
  readonly state: RoutingState;
  /** The store of each shard id the state names. */
  readonly stores: ReadonlyMap<string, ShardStore> | ((shardId: string) => ShardStore);
  /** Documents read per shard per round trip; default 1000. */
  readonly batchSize?: number;
  /** Examples kept per kind of problem; default 10. */
  readonly sampleLimit?: number;
}

/** Counts of one shard. */
export interface ShardAudit {
  /** Documents scanned, markers included. */
  documents: number;
  /** Documents with none of `_moved`, `_ph`, `_ts`. */
  live: number;
  /** Fenced documents (`_moved` set, data kept), placeholders excluded. */
  fenced: number;
  /** Placeholders (`_ph`): fences on keys that had no document. */
  placeholders: number;
  /** Tombstones (`_ts`): deletes recorded at a new owner. */
  tombstones: number;
  /** Live documents on a shard their key does not route to. */
  misplaced: number;
  /** Documents whose `_h` is not the ring point of their `_id` (or whose `_id` is no shard key). */
  badHash: number;
  /** Documents without `_h` at all: invisible to range scans, so never migrated. */
  missingHash: number;
  /** Fences or placeholders on the key's own owner in a stable state: that key refuses every write. */
  fencedAtOwner: number;
}

/** One example of a problem, for the report. */
export interface AuditSample {
  readonly kind: 'misplaced' | 'duplicate' | 'badHash' | 'fencedAtOwner';
  readonly id: unknown;
  readonly h: number;
  /** Shards holding it (one, or several for a duplicate). */
  readonly shards: readonly string[];
  /** Where it should be (misplaced), or the `_h` it should have (badHash). */
  readonly expected?: readonly string[] | number;
}

/** What the audit found. */
export interface PlacementAuditReport {
  readonly phase: RoutingState['phase'];
  readonly epoch: number;
  /**
   * True in a stable state: nothing moves, so the per-shard scans form a consistent picture.
   * While migrating, documents move during the scan and a document can be counted on both sides.
   */
  readonly consistent: boolean;
  /** No misplaced, duplicate, badHash, missingHash or fencedAtOwner documents. */
  readonly ok: boolean;
  readonly totals: ShardAudit & {
    /** `_id`s live on more than one shard. */
    duplicates: number;
  };
  readonly shards: Readonly<Record<string, ShardAudit>>;
  readonly samples: readonly AuditSample[];
}

function emptyCounts(): ShardAudit {
  return { documents: 0, live: 0, fenced: 0, placeholders: 0, tombstones: 0, misplaced: 0, badHash: 0, missingHash: 0, fencedAtOwner: 0 };
}

/** Reads one shard in `(_h, _id)` order, a batch at a time. */
class ShardScan {
  readonly shardId: string;
  readonly #store: ShardStore;
  readonly #batchSize: number;
  #buffer: StoredDocument[] = [];
  #index = 0;
  #after: RangeCursor | null = null;
  #exhausted = false;

  constructor(shardId: string, store: ShardStore, batchSize: number) {
    this.shardId = shardId;
    this.#store = store;
    this.#batchSize = batchSize;
  }

  /** The next document without consuming it, or null at the end. */
  async peek(): Promise<StoredDocument | null> {
    if (this.#index < this.#buffer.length) return this.#buffer[this.#index] ?? null;
    if (this.#exhausted) return null;
    this.#buffer = await this.#store.scanRange(EVERYTHING, this.#after, this.#batchSize);
    this.#index = 0;
    const last = this.#buffer[this.#buffer.length - 1];
    if (last === undefined) {
      this.#exhausted = true;
      return null;
    }
    this.#after = { h: last._h, id: last._id };
    if (this.#buffer.length < this.#batchSize) this.#exhausted = true;
    return this.#buffer[0] ?? null;
  }

  next(): void {
    this.#index += 1;
  }
}

/** The running tally of one audit: per-shard counts, kept samples, and the rings to judge by. */
class Tally {
  readonly shards: Record<string, ShardAudit> = {};
  readonly samples: AuditSample[] = [];
  duplicates = 0;
  readonly #kept: Record<AuditSample['kind'], number> = { misplaced: 0, duplicate: 0, badHash: 0, fencedAtOwner: 0 };
  readonly #to: Ring;
  readonly #from: Ring | undefined;
  readonly #stable: boolean;
  readonly #sampleLimit: number;
  /** The field whose value routes a document (ADR 0008). */
  readonly #shardKey: string;

  constructor(state: RoutingState, shardIds: readonly string[], sampleLimit: number) {
    this.#shardKey = shardKeyOf(state.topology);
    this.#to = Ring.fromTopology(state.topology);
    this.#from = state.phase === 'migrating' ? Ring.fromTopology(state.from) : undefined;
    this.#stable = state.phase === 'stable';
    this.#sampleLimit = sampleLimit;
    for (const id of shardIds) this.shards[id] = emptyCounts();
  }

  sample(s: AuditSample): void {
    if (this.#kept[s.kind] >= this.#sampleLimit) return;
    this.#kept[s.kind] += 1;
    this.samples.push(s);
  }

  /** The shards that may own `id` (new owner first, then the old one while migrating); null: not a shard key. */
  #owners(id: unknown): string[] | null {
    try {
      const now = this.#to.route(id as ShardKey);
      const before = this.#from?.route(id as ShardKey);
      return before === undefined || before === now ? [now] : [now, before];
    } catch {
      return null; // not a shard key: reported as badHash
    }
  }

  #ownersOfPoint(h: number): string[] {
    const now = this.#to.ownerOfPoint(h);
    const before = this.#from?.ownerOfPoint(h);
    return before === undefined || before === now ? [now] : [now, before];
  }

  #pointOf(id: unknown): number | null {
    try {
      return this.#to.hash.point(id as ShardKey);
    } catch {
      return null;
    }
  }

  /**
   * The value a stored entry routes by: its `_id` under shard key `_id`, else its shard-key value. A
   * placeholder or a tombstone carries no data, so no value (null): its `_h` stands in (ADR 0008).
   */
  #routingValue(doc: StoredDocument): unknown {
    if (this.#shardKey === DEFAULT_SHARD_KEY) return doc._id;
    if (isTombstone(doc) || isPlaceholder(doc)) return null;
    try {
      return valueAtPath(doc, this.#shardKey);
    } catch {
      return undefined; // an array: reported as badHash
    }
  }

  /** Count one stored entry of `shardId`; a live one is noted in `liveById` to find duplicates. */
  classify(shardId: string, doc: StoredDocument, liveById: Map<string, { id: unknown; shards: string[] }>): void {
    const c = this.shards[shardId] as ShardAudit;
    c.documents += 1;
    const value = this.#routingValue(doc);
    const expectedOwners = value === null ? this.#ownersOfPoint(doc._h) : this.#owners(value);
    const expectedH = value === null ? doc._h : this.#pointOf(value);
    if (expectedOwners === null || expectedH !== doc._h) {
      c.badHash += 1;
      this.sample({ kind: 'badHash', id: doc._id, h: doc._h, shards: [shardId], ...(expectedH === null ? {} : { expected: expectedH }) });
    }
    if (isTombstone(doc)) {
      c.tombstones += 1;
    } else if (isPlaceholder(doc)) {
      c.placeholders += 1;
    } else if (isFenced(doc)) {
      c.fenced += 1;
    } else {
      c.live += 1;
      if (expectedOwners !== null && !expectedOwners.includes(shardId)) {
        c.misplaced += 1;
        this.sample({ kind: 'misplaced', id: doc._id, h: doc._h, shards: [shardId], expected: expectedOwners });
      }
      const key = idKey(doc._id);
      const entry = liveById.get(key);
      if (entry === undefined) liveById.set(key, { id: doc._id, shards: [shardId] });
      else entry.shards.push(shardId);
    }
    if (this.#stable && !isTombstone(doc) && isFence(doc) && expectedOwners?.[0] === shardId) {
      c.fencedAtOwner += 1;
      this.sample({ kind: 'fencedAtOwner', id: doc._id, h: doc._h, shards: [shardId] });
    }
  }
}

/** Take every entry at ring point `h` off the scans' heads: every copy of a key sits at its point. */
async function auditPoint(h: number, scans: readonly ShardScan[], tally: Tally): Promise<void> {
  const liveById = new Map<string, { id: unknown; shards: string[] }>();
  for (const scan of scans) {
    for (let doc = await scan.peek(); doc !== null && doc._h === h; doc = await scan.peek()) {
      scan.next();
      tally.classify(scan.shardId, doc, liveById);
    }
  }
  for (const entry of liveById.values()) {
    if (entry.shards.length > 1) {
      tally.duplicates += 1;
      tally.sample({ kind: 'duplicate', id: entry.id, h, shards: entry.shards });
    }
  }
}

/**
 * Audit the placement of every document of `state`'s shards. Reads only; safe on a live
 * deployment, where a migrating state gives an approximate (not a consistent) picture.
 */
export async function auditPlacement(options: PlacementAuditOptions): Promise<PlacementAuditReport> {
  requireObject(options, 'auditPlacement(options): options', 'an object with state and stores');
  requireObject(options.state, 'auditPlacement: options.state', 'a routing state');
  const { state } = options;
  const batchSize = options.batchSize ?? 1000;
  const sampleLimit = options.sampleLimit ?? 10;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ShardkitInvalidArgumentError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(sampleLimit) || sampleLimit < 0) throw new ShardkitInvalidArgumentError(`sampleLimit must be an integer >= 0, got ${sampleLimit}`);
  const storeOf = typeof options.stores === 'function' ? options.stores : (id: string): ShardStore => {
    const store = (options.stores as ReadonlyMap<string, ShardStore>).get(id);
    if (store === undefined) throw new ShardkitInvalidArgumentError(`no store given for shard ${id}`);
    return store;
  };

  const shardIds = [...new Set([...state.topology.shards.map((s) => s.id), ...(state.phase === 'migrating' ? state.from.shards.map((s) => s.id) : [])])];
  const tally = new Tally(state, shardIds, sampleLimit);
  const scans = shardIds.map((id) => new ShardScan(id, storeOf(id), batchSize));
  for (;;) {
    // The smallest `_h` at the head of any shard: every copy of a key sits at that point.
    const heads = await Promise.all(scans.map((scan) => scan.peek()));
    let h = Infinity;
    for (const doc of heads) if (doc !== null && doc._h < h) h = doc._h;
    if (h === Infinity) break;
    await auditPoint(h, scans, tally);
  }

  // Documents without `_h` never show up in a range scan; count them directly.
  const { shards, samples, duplicates } = tally;
  await Promise.all(
    shardIds.map(async (id) => {
      (shards[id] as ShardAudit).missingHash = await storeOf(id).count({ _h: { $exists: false } });
    }),
  );

  const totals = { ...emptyCounts(), duplicates };
  for (const c of Object.values(shards)) {
    for (const key of Object.keys(c) as Array<keyof ShardAudit>) totals[key] += c[key];
  }
  const ok = totals.misplaced + duplicates + totals.badHash + totals.missingHash + totals.fencedAtOwner === 0;
  return { phase: state.phase, epoch: state.epoch, consistent: state.phase === 'stable', ok, totals, shards, samples };
}
