/**
 * The migration journal: everything a migrator needs to pick a migration up after a kill at any
 * point. It is written to the config store after every step that changed something on a shard, so
 * `resume()` repeats at most the last step, and every step is idempotent.
 */
import { HashName } from '../hash/types.js';
import { Placement, type ShardSpec, type TopologySpec } from '../topology/types.js';
import type { RangeCursor } from '../stores/shard-store.js';
import { RecordReader } from './record-reader.js';

/**
 * Phases of one leg, in order. A forward migration is one leg; an abort adds a second leg that runs
 * the same phases from the new owners back to the old ones (ADR 0002, ADR 0003).
 *
 * - `publish`: the journal exists; `migrating(epoch)` may or may not be published yet.
 * - `copy`: fence + copy per move, checkpointed by `(_h, _id)` cursor.
 * - `sweep`: once no router can hold the state before `migrating` (a router-lease wait from
 *   `publishedAt`), fence + copy what late writers left unfenced, and lift stale fences (relics) at
 *   the targets.
 * - `verify`: every fenced source entry with data has a current entry at its target.
 * - `commit`: `stable(stableEpoch)` with `settling` may or may not be published yet.
 * - `cleanup`: after a router-lease wait from `committedAt`, delete the sources' fences and
 *   placeholders in throttled batches.
 * - `settle`: `stable(stableEpoch + 1)` without `settling` may or may not be published yet.
 * - `purge`: after a router-lease wait from `settledAt`, delete the targets' tombstones and
 *   placeholder relics.
 * - `done`: finished (`outcome` says how); the lock is released.
 */
export const Phase = {
  publish: 'publish',
  copy: 'copy',
  sweep: 'sweep',
  verify: 'verify',
  commit: 'commit',
  cleanup: 'cleanup',
  settle: 'settle',
  purge: 'purge',
  done: 'done',
} as const;
/** Union of phase names. */
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Progress of one move within the current leg. */
export interface MoveProgress {
  /** Exclusive lower bound of the moved hash range. */
  readonly start: number;
  /** Inclusive upper bound. */
  readonly end: number;
  /** Source shard of this leg. */
  readonly from: string;
  /** Target shard of this leg. */
  readonly to: string;
  /** Live documents in the range at the source when the leg was planned. */
  estimated: number;
  /** Documents this migrator fenced at the source and carried to the target. */
  copied: number;
  /** Last `(_h, _id)` fenced and carried, or null before the first batch. */
  cursor: RangeCursor | null;
  /** The copy of this move is complete. */
  copyDone: boolean;
  /** Cursor of the sweep pass (same meaning as `cursor`). */
  sweepCursor: RangeCursor | null;
  sweepDone: boolean;
  verifyDone: boolean;
  /** The source's fences and placeholders of this move are deleted. */
  cleanupDone: boolean;
  /** The target's tombstones and placeholder relics of this move are deleted. */
  purgeDone: boolean;
}

/** Counters that survive resumes, for the "read per moved" acceptance and for reports. */
export interface MigrationCounters {
  /** Document bodies the migrator fetched from shards (fenceIds read-backs, fence, find of bodies). */
  docsRead: number;
  /** Documents with data the migrator fenced at a source (each moves once). */
  docsMoved: number;
  /** Documents the migrator's insert-if-absent actually inserted at a target. */
  docsInserted: number;
  /** `_id`s read by verify (key-only reads, no bodies). */
  keysRead: number;
  /** Keys (`_id`, `_h`, no bodies) the copy and the sweep listed to find what to fence. */
  keysListed: number;
  /** Late documents the sweep found unfenced. */
  swept: number;
  /** Fenced entries verify found missing at the target and carried over. */
  repaired: number;
  /** Stale fences (relics) at targets lifted or replaced by the sweep. */
  relicsLifted: number;
  /** Markers deleted by cleanup. */
  deleted: number;
}

/** The journal entry of a migration, one per topology name. */
export interface MigrationJournal {
  /** Unique id of the migration (both legs share it). */
  readonly id: string;
  /** Topology name. */
  readonly name: string;
  /** Owner that started the migration (any owner may resume it once the lock is free). */
  owner: string;
  /** Epoch of the stable state the migration started from. */
  readonly baseEpoch: number;
  /** True on the abort leg. */
  reverse: boolean;
  /** Owners before, for this leg. */
  from: TopologySpec;
  /** Owners after, for this leg. */
  to: TopologySpec;
  /** Epoch of this leg's migrating state (the fence value). */
  epoch: number;
  /** Epoch of the stable state that ends this leg. */
  stableEpoch: number;
  phase: Phase;
  /**
   * When this leg's migrating state was seen published (wall-clock ms); sweep waits from here. Wall
   * time, like the other timestamps here: a migrator in another process resumes from them.
   */
  publishedAt: number | null;
  /** When the stable state was seen published (ms); cleanup waits from here. */
  committedAt: number | null;
  /** When the settled stable state (`stableEpoch + 1`) was seen published (ms); purge waits from here. */
  settledAt: number | null;
  moves: MoveProgress[];
  counters: MigrationCounters;
  readonly startedAt: number;
  finishedAt: number | null;
  /** How the migration ended: `completed` or `aborted`. */
  outcome: 'completed' | 'aborted' | null;
}

/**
 * Epoch of the state that ends a leg for good: the same topology as `stableEpoch`'s, without `settling`
 * (published once the old owners' fenced copies are gone; ADR 0003).
 */
export function settledEpoch(journal: Pick<MigrationJournal, 'stableEpoch'>): number {
  return journal.stableEpoch + 1;
}

/** Journal key of the migration of topology `name`. */
export function journalKey(name: string): string {
  return `migration:${name}`;
}

/** Journal key of the control entry other processes write to ask a running migrator to abort. */
export function controlKey(name: string): string {
  return `migration-control:${name}`;
}

/** Zeroed counters. */
export function emptyCounters(): MigrationCounters {
  return { docsRead: 0, docsMoved: 0, docsInserted: 0, keysRead: 0, keysListed: 0, swept: 0, repaired: 0, relicsLifted: 0, deleted: 0 };
}

/** Progress of a move not started yet: `estimated` live documents in `(start, end]` go `from` -> `to`. */
export function freshMove(start: number, end: number, from: string, to: string, estimated: number): MoveProgress {
  return {
    start,
    end,
    from,
    to,
    estimated,
    copied: 0,
    cursor: null,
    copyDone: false,
    sweepCursor: null,
    sweepDone: false,
    verifyDone: false,
    cleanupDone: false,
    purgeDone: false,
  };
}

/**
 * Format tag of a journal record, so a future layout can be told apart (like the file config store's
 * `shardkit.config-store/1`). Records written before the tag existed are read as this format.
 */
export const JOURNAL_FORMAT = 'shardkit.journal/1';

/**
 * The journal as the config store's plain record, tagged with {@link JOURNAL_FORMAT}. Config stores
 * copy values through Extended JSON, so cursor `_id`s of any BSON type (ObjectId, Long, binary)
 * survive the round trip.
 */
export function journalToRecord(journal: MigrationJournal): Record<string, unknown> {
  return { format: JOURNAL_FORMAT, ...journal };
}

/**
 * Read back a journal record written by {@link journalToRecord}, checking every field: a malformed
 * record, or one of an unknown format, fails with `shardkit.migration.journalInvalid` instead of
 * steering a migrator by garbage. A record without a format tag (written before the tag existed) is
 * read as {@link JOURNAL_FORMAT}, so a migration in flight survives an upgrade.
 */
export function journalFromRecord(record: unknown): MigrationJournal {
  const r = RecordReader.root(record, 'journal');
  const format = r.optionalString('format');
  if (format !== undefined && format !== JOURNAL_FORMAT) {
    throw r.invalid(`has format "${format}"; this release reads ${JOURNAL_FORMAT}`);
  }
  return {
    id: r.string('id'),
    name: r.string('name'),
    owner: r.string('owner'),
    baseEpoch: r.integer('baseEpoch'),
    reverse: r.boolean('reverse'),
    from: readTopology(r.child('from')),
    to: readTopology(r.child('to')),
    epoch: r.integer('epoch'),
    stableEpoch: r.integer('stableEpoch'),
    phase: r.oneOf('phase', PHASES),
    publishedAt: r.nullableNumber('publishedAt'),
    committedAt: r.nullableNumber('committedAt'),
    settledAt: r.nullableNumber('settledAt'),
    moves: r.children('moves').map(readMove),
    counters: readCounters(r.child('counters')),
    startedAt: r.number('startedAt'),
    finishedAt: r.nullableNumber('finishedAt'),
    outcome: r.nullableOneOf('outcome', OUTCOMES),
  };
}

const PHASES: readonly Phase[] = Object.values(Phase);
const OUTCOMES = ['completed', 'aborted'] as const;
const HASHES: readonly HashName[] = Object.values(HashName);
const PLACEMENTS: readonly Placement[] = Object.values(Placement);

function readMove(r: RecordReader): MoveProgress {
  return {
    start: r.number('start'),
    end: r.number('end'),
    from: r.string('from'),
    to: r.string('to'),
    estimated: r.number('estimated'),
    copied: r.number('copied'),
    cursor: readCursor(r, 'cursor'),
    copyDone: r.boolean('copyDone'),
    sweepCursor: readCursor(r, 'sweepCursor'),
    sweepDone: r.boolean('sweepDone'),
    verifyDone: r.boolean('verifyDone'),
    cleanupDone: r.boolean('cleanupDone'),
    purgeDone: r.boolean('purgeDone'),
  };
}

function readCursor(r: RecordReader, key: string): RangeCursor | null {
  const c = r.nullableChild(key);
  return c === null ? null : { h: c.number('h'), id: c.present('id') };
}

function readCounters(r: RecordReader): MigrationCounters {
  return {
    docsRead: r.number('docsRead'),
    docsMoved: r.number('docsMoved'),
    docsInserted: r.number('docsInserted'),
    keysRead: r.number('keysRead'),
    // Absent from journals written before the copier listed keys.
    keysListed: r.optionalNumber('keysListed', 0),
    swept: r.number('swept'),
    repaired: r.number('repaired'),
    relicsLifted: r.number('relicsLifted'),
    deleted: r.number('deleted'),
  };
}

/**
 * The topology's shape only: its values were validated when it was planned, and `Topology.from` is
 * where deep validation lives. Optional shard fields are copied only when present, as `toJSON` does.
 */
function readTopology(r: RecordReader): TopologySpec {
  // A journal that dropped the shard key would resume routing by `_id` (ADR 0008).
  const shardKey = r.optionalString('shardKey');
  return {
    name: r.string('name'),
    epoch: r.integer('epoch'),
    hash: r.oneOf('hash', HASHES),
    vnodes: r.number('vnodes'),
    placement: r.oneOf('placement', PLACEMENTS),
    shards: r.children('shards').map(readShard),
    ...(shardKey === undefined ? {} : { shardKey }),
  };
}

function readShard(r: RecordReader): ShardSpec {
  const out: { -readonly [K in keyof ShardSpec]: ShardSpec[K] } = { id: r.string('id'), weight: r.number('weight') };
  const uri = r.optionalString('uri');
  if (uri !== undefined) out.uri = uri;
  const db = r.optionalString('db');
  if (db !== undefined) out.db = db;
  const tokens = r.optionalNumbers('tokens');
  if (tokens !== undefined) out.tokens = tokens;
  const draining = r.optionalBoolean('draining');
  if (draining !== undefined) out.draining = draining;
  return out;
}
