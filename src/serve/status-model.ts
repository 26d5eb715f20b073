/**
 * What `shardkit serve` knows about a live deployment at one instant, as plain JSON-ready data: the
 * `status` report, the ring's arcs for the dashboard's circle, and the migration from its journal
 * with per-move progress, rate and ETA. Pure: the collector feeds it what it read.
 */
import type { StatusReport } from '../cli/commands/status.js';
import { progressEvent } from '../rebalance/events.js';
import type { MigrationCounters, MigrationJournal, Phase } from '../rebalance/journal.js';
import { Ring } from '../ring/ring.js';
import type { TopologySpec } from '../topology/types.js';

/** The ring as arcs: `[start, end, owner]`, `(start, end]` with `owner` an index into `shards`. */
export interface RingArcs {
  readonly shards: readonly string[];
  readonly arcs: ReadonlyArray<readonly [start: number, end: number, owner: number]>;
}

/** One move of the migration's current leg. */
export interface MoveView {
  readonly from: string;
  readonly to: string;
  readonly start: number;
  readonly end: number;
  readonly copied: number;
  /** Never below `copied` (a range may have grown since it was planned). */
  readonly estimated: number;
  /** The last phase this move has finished, in leg order (null: copy still running). */
  readonly done: 'copy' | 'sweep' | 'verify' | 'cleanup' | 'purge' | null;
}

/** The migration the journal records, running or finished. */
export interface MigrationView {
  readonly id: string;
  readonly phase: Phase;
  readonly reverse: boolean;
  readonly epoch: number;
  readonly outcome: 'completed' | 'aborted' | null;
  /** False once the journal says `done`. */
  readonly active: boolean;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly copied: number;
  readonly estimated: number;
  /** Documents per second over the collector's recent window (0 when nothing moved in it). */
  readonly docsPerSec: number;
  /** Remaining copy time at that rate; 0 when copied, null when unknown (no rate yet). */
  readonly etaMs: number | null;
  readonly counters: MigrationCounters;
  readonly moves: readonly MoveView[];
}

/** Everything `/api/status` answers. */
export interface ServeStatus {
  /** Wall-clock ms of the poll this status comes from. */
  readonly at: number;
  /** Config store reachable and the state readable. */
  readonly configStore: { readonly reachable: boolean; readonly error?: string };
  /** The `shardkit status` report (null when the state could not be read). */
  readonly deployment: StatusReport | null;
  readonly ring: RingArcs | null;
  readonly migration: MigrationView | null;
  /** Why the migration journal could not be read (a malformed record), when it could not. */
  readonly journalError?: string;
  /** Config store and every shard reachable. */
  readonly ready: boolean;
}

const RING_TOP = 0xffffffff;

/** The arcs of `topology`'s ring, adjacent arcs of one owner merged, the wrap split at the top. */
export function ringArcs(topology: TopologySpec): RingArcs {
  const ring = Ring.fromTopology(topology);
  const arcs: Array<[number, number, number]> = [];
  const push = (start: number, end: number, owner: number): void => {
    const last = arcs.at(-1);
    if (last !== undefined && last[2] === owner && last[1] === start) last[1] = end;
    else arcs.push([start, end, owner]);
  };
  let prev = -1;
  ring.points.forEach((point, i) => {
    push(prev, point, ring.owners[i]!);
    prev = point;
  });
  if (prev < RING_TOP) push(prev, RING_TOP, ring.owners[0]!);
  return { shards: ring.shardIds, arcs };
}

function lastDone(m: MigrationJournal['moves'][number]): MoveView['done'] {
  if (m.purgeDone) return 'purge';
  if (m.cleanupDone) return 'cleanup';
  if (m.verifyDone) return 'verify';
  if (m.sweepDone) return 'sweep';
  return m.copyDone ? 'copy' : null;
}

/**
 * The journal's migration with `recentDocs` copied in the last `windowMs` as its rate. Totals, rate
 * and ETA come from the migrator's own progress arithmetic, so the dashboard and the CLI agree.
 */
export function migrationView(journal: MigrationJournal, windowMs: number, recentDocs: number): MigrationView {
  const active = journal.phase !== 'done';
  const event = journal.moves.length === 0 ? undefined : progressEvent(journal, 0, windowMs, recentDocs);
  const totals = event?.type === 'progress' ? event : { totalCopied: 0, totalEstimated: 0, docsPerSec: 0, etaMs: 0 };
  return {
    id: journal.id,
    phase: journal.phase,
    reverse: journal.reverse,
    epoch: journal.epoch,
    outcome: journal.outcome,
    active,
    startedAt: journal.startedAt,
    finishedAt: journal.finishedAt,
    copied: totals.totalCopied,
    estimated: totals.totalEstimated,
    docsPerSec: active ? totals.docsPerSec : 0,
    etaMs: active ? totals.etaMs : 0,
    counters: journal.counters,
    moves: journal.moves.map((m) => ({
      from: m.from,
      to: m.to,
      start: m.start,
      end: m.end,
      copied: m.copied,
      estimated: Math.max(m.estimated, m.copied),
      done: lastDone(m),
    })),
  };
}

/**
 * Documents copied per migration over a sliding window of polls: the rate an operator sees now,
 * not the average since a start that may lie before a resume.
 */
export class CopyRate {
  readonly #windowMs: number;
  #samples: Array<{ id: string; at: number; copied: number }> = [];

  /** `windowMs`: how far back the rate looks. */
  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Record `copied` of migration `id` at monotonic `now`; returns the window's span and documents. */
  observe(id: string, copied: number, now: number): { windowMs: number; docs: number } {
    this.#samples = this.#samples.filter((s) => s.id === id && now - s.at <= this.#windowMs);
    this.#samples.push({ id, at: now, copied });
    const first = this.#samples[0]!;
    return { windowMs: now - first.at, docs: Math.max(0, copied - first.copied) };
  }
}
