/**
 * The placement audit behind `shardkit verify`: reads every shard of a routing state and checks that
 * every live document sits on the shard its key routes to, that no `_id` is live on two shards, that
 * every `_h` is the ring point of its shard-key value (its `_id` under shard key `_id`, ADR 0008), and
 * counts shardkit's markers. Pure over `ShardStore`,
 * so it runs on `MemoryStore` (demos, simulations) exactly as on MongoDB.
 *
 * Each shard is read in one pass, a batch at a time (`findBatches`, each batch one call under its own
 * deadline), in no particular order: placement needs none, and a server that cannot use the
 * `(_h, _id)` index for a sort (FerretDB) sorted its whole collection for every page of an ordered
 * scan, so an audit in `(_h, _id)` order was quadratic and its pages timed out on a shard of 30,000
 * documents. A second copy of a key is found by `_id` lookups, which every server indexes, at the
 * shards where one can be: a live document on a shard its key does not route to is looked up on every
 * other shard, and while migrating, a live document of a moving key at its other owner. In a stable
 * state every duplicate has a misplaced copy, so this finds them all. Memory stays at one batch per
 * shard and the duplicates found.
 */
import type { RoutingState } from '../router/routing-state.js';
import { ShardkitInvalidArgumentError } from '../errors.js';
import type { ShardKey } from '../hash/types.js';
import { valueAtPath } from '../hash/key.js';
import { Ring } from '../ring/ring.js';
import { DEFAULT_SHARD_KEY, shardKeyOf } from '../topology/shard-key.js';
import { idKey } from '../stores/bson-order.js';
import { isFence, isFenced, isLive, isPlaceholder, isTombstone } from '../stores/markers.js';
import type { ShardStore, StoredDocument } from '../stores/shard-store.js';
import { requireObject } from '../arguments.js';

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

  /** What an audit reads of each entry: its place, its markers, and its shard-key value (ADR 0008). */
  projection(): Record<string, 1> {
    const fields: Record<string, 1> = { _id: 1, _h: 1, _moved: 1, _ph: 1, _ts: 1 };
    if (this.#shardKey !== DEFAULT_SHARD_KEY) fields[this.#shardKey] = 1;
    return fields;
  }

  /**
   * Count one stored entry of `shardId`. Answers, for a live entry, the other shards a second copy of
   * its `_id` could be live on and be missed by the audit (see the file's comment): every other shard
   * when it is misplaced (or its `_id` is no shard key), its other owner while its key moves; else none.
   */
  classify(shardId: string, doc: StoredDocument, allShards: readonly string[]): readonly string[] {
    const c = this.shards[shardId] as ShardAudit;
    if (typeof doc._h !== 'number') {
      // Invisible to range scans, so never migrated; counted apart from the documents (see ShardAudit).
      c.missingHash += 1;
      return [];
    }
    c.documents += 1;
    const value = this.#routingValue(doc);
    const expectedOwners = value === null ? this.#ownersOfPoint(doc._h) : this.#owners(value);
    const expectedH = value === null ? doc._h : this.#pointOf(value);
    if (expectedOwners === null || expectedH !== doc._h) {
      c.badHash += 1;
      this.sample({ kind: 'badHash', id: doc._id, h: doc._h, shards: [shardId], ...(expectedH === null ? {} : { expected: expectedH }) });
    }
    let elsewhere: readonly string[] = [];
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
      // No owner known (no shard key) or not here: a second copy could be anywhere; else at the other owner.
      const others = expectedOwners === null || !expectedOwners.includes(shardId) ? allShards : expectedOwners;
      elsewhere = others.filter((id) => id !== shardId);
    }
    if (this.#stable && !isTombstone(doc) && isFence(doc) && expectedOwners?.[0] === shardId) {
      c.fencedAtOwner += 1;
      this.sample({ kind: 'fencedAtOwner', id: doc._id, h: doc._h, shards: [shardId] });
    }
    return elsewhere;
  }
}

/** The `_id`s found live on more than one shard, each with every shard it was found live on. */
class Duplicates {
  readonly #byId = new Map<string, { readonly id: unknown; readonly h: number; readonly shards: Set<string> }>();

  note(doc: StoredDocument, shardIds: readonly string[]): void {
    const key = idKey(doc._id);
    const entry = this.#byId.get(key);
    if (entry === undefined) this.#byId.set(key, { id: doc._id, h: doc._h, shards: new Set(shardIds) });
    else for (const id of shardIds) entry.shards.add(id);
  }

  /** Count them into `tally`, with samples (shards in the order of `allShards`). */
  report(tally: Tally, allShards: readonly string[]): void {
    for (const { id, h, shards } of this.#byId.values()) {
      tally.duplicates += 1;
      tally.sample({ kind: 'duplicate', id, h, shards: allShards.filter((s) => shards.has(s)) });
    }
  }
}

/**
 * Read every entry of `shardId` a batch at a time; for each batch, look up the `_id`s of its live
 * entries that could have a second live copy at the shards `classify` names, one `_id: {$in}` query per
 * shard.
 */
async function auditShard(shardId: string, ctx: AuditContext): Promise<void> {
  const { tally, stores, allShards, batchSize, duplicates } = ctx;
  const cursor = (stores.get(shardId) as ShardStore).findBatches({}, { batchSize, projection: tally.projection() });
  try {
    for (;;) {
      const next = await cursor.next();
      if (next.done === true || ctx.failed) return;
      const lookups = new Map<string, StoredDocument[]>();
      for (const doc of next.value) {
        for (const other of tally.classify(shardId, doc, allShards)) {
          const docs = lookups.get(other);
          if (docs === undefined) lookups.set(other, [doc]);
          else docs.push(doc);
        }
      }
      await Promise.all(
        [...lookups].map(async ([other, docs]) => {
          const found = await (stores.get(other) as ShardStore).find({ _id: { $in: docs.map((d) => d._id) } }, { projection: MARKERS });
          const live = new Set(found.filter(isLive).map((d) => idKey(d._id)));
          for (const doc of docs) if (live.has(idKey(doc._id))) duplicates.note(doc, [shardId, other]);
        }),
      );
    }
  } finally {
    await cursor.close();
  }
}

/** What an `_id` lookup reads: enough to tell a live entry from a marker. */
const MARKERS: Readonly<Record<string, 1>> = Object.freeze({ _id: 1, _moved: 1, _ph: 1, _ts: 1 });

interface AuditContext {
  readonly tally: Tally;
  readonly duplicates: Duplicates;
  readonly stores: ReadonlyMap<string, ShardStore>;
  readonly allShards: readonly string[];
  readonly batchSize: number;
  /** Set when a shard's pass failed: the audit's answer is that error, so the others stop. */
  failed: boolean;
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
  const given = options.stores;
  const shardIds = [...new Set([...state.topology.shards.map((s) => s.id), ...(state.phase === 'migrating' ? state.from.shards.map((s) => s.id) : [])])];
  const stores = new Map<string, ShardStore>();
  for (const id of shardIds) {
    const store = typeof given === 'function' ? given(id) : given.get(id);
    if (store === undefined) throw new ShardkitInvalidArgumentError(`no store given for shard ${id}`);
    stores.set(id, store);
  }
  const tally = new Tally(state, shardIds, sampleLimit);
  const duplicates = new Duplicates();
  const ctx: AuditContext = { tally, duplicates, stores, allShards: shardIds, batchSize, failed: false };
  await Promise.all(
    shardIds.map((id) =>
      auditShard(id, ctx).catch((error: unknown) => {
        ctx.failed = true; // the other shards' passes stop at their next batch
        throw error;
      }),
    ),
  );
  duplicates.report(tally, shardIds);
  const { shards, samples } = tally;

  const totals = { ...emptyCounts(), duplicates: tally.duplicates };
  for (const c of Object.values(shards)) {
    for (const key of Object.keys(c) as Array<keyof ShardAudit>) totals[key] += c[key];
  }
  const ok = totals.misplaced + totals.duplicates + totals.badHash + totals.missingHash + totals.fencedAtOwner === 0;
  return { phase: state.phase, epoch: state.epoch, consistent: state.phase === 'stable', ok, totals, shards, samples };
}
