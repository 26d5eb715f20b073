/**
 * The migration journal: everything a migrator needs to pick a migration up after a kill at any
 * point. It is written to the config store after every step that changed something on a shard, so
 * `resume()` repeats at most the last step, and every step is idempotent.
 */
import type { TopologySpec } from '../topology/types.js';
import type { RangeCursor } from '../stores/shard-store.js';

/**
 * Phases of one leg, in order. A forward migration is one leg; an abort adds a second leg that runs
 * the same phases from the new owners back to the old ones.
 *
 * - `publish`: the journal exists, the migrating state may or may not be published yet.
 * - `copy`: fence + copy per move, checkpointed by `(_h, _id)` cursor.
 * - `sweep`: after the router lease ran out, fence + copy what late writers left unfenced, and lift
 *   stale fences (relics) at the targets.
 * - `verify`: every fenced source entry with data has a current entry at its target.
 * - `commit`: the stable state may or may not be published yet.
 * - `cleanup`: after the router lease ran out again, delete markers in throttled batches.
 * - `done`: finished; the lock is released.
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
  /** Document bodies the migrator fetched from shards (fenceRange, fence, find of bodies). */
  docsRead: number;
  /** Documents with data the migrator fenced at a source (each moves once). */
  docsMoved: number;
  /** Documents the migrator's insert-if-absent actually inserted at a target. */
  docsInserted: number;
  /** `_id`s read by verify (key-only reads, no bodies). */
  keysRead: number;
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
  /** When this leg's migrating state was seen published (ms); sweep waits from here. */
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
  return { docsRead: 0, docsMoved: 0, docsInserted: 0, keysRead: 0, swept: 0, repaired: 0, relicsLifted: 0, deleted: 0 };
}

/**
 * The journal as the config store's plain record. Config stores copy values through Extended JSON,
 * so cursor `_id`s of any BSON type (ObjectId, Long, binary) survive the round trip.
 */
export function journalToRecord(journal: MigrationJournal): Record<string, unknown> {
  return journal as unknown as Record<string, unknown>;
}

/** Read back a journal record written by {@link journalToRecord}. */
export function journalFromRecord(record: Record<string, unknown>): MigrationJournal {
  return record as unknown as MigrationJournal;
}
