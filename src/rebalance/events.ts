/**
 * What a migration reports while it runs: the JSON-serializable events progress bars and `--json`
 * lines consume, and the progress figures (totals, rate, ETA) computed from the journal.
 */
import { settledEpoch, type MigrationCounters, type MigrationJournal, type MoveProgress, type Phase } from './journal.js';
import type { ThrottleDecision } from './throttle.js';

/** Something the migrator reports, for progress bars and `--json` lines. JSON-serializable. */
export type MigrationEvent =
  | {
      readonly type: 'phase';
      readonly migrationId: string;
      readonly phase: Phase;
      /** The leg's `migrating` epoch: fixed for the whole leg, so it names the leg, not the live state. */
      readonly epoch: number;
      /**
       * The epoch of the routing state routers follow while this phase runs: the last one the leg
       * published before it (commit and settle move it on by one each; see {@link phaseEvent}).
       */
      readonly liveEpoch: number;
      /** The epoch this phase publishes when it ends (publish, commit, settle); null for the others. */
      readonly publishes: number | null;
      readonly reverse: boolean;
    }
  | {
      readonly type: 'progress';
      readonly migrationId: string;
      readonly phase: Phase;
      /** Index of the move in the plan. */
      readonly move: number;
      readonly moves: number;
      readonly from: string;
      readonly to: string;
      /** Documents carried for this move so far / estimated at plan time. */
      readonly copied: number;
      readonly estimated: number;
      /** Totals over all moves. */
      readonly totalCopied: number;
      readonly totalEstimated: number;
      /** Documents per second in this run, and the remaining time at that rate (null: unknown), as of this event. */
      readonly docsPerSec: number;
      readonly etaMs: number | null;
      /**
       * What that rate divides: the documents this run copied (counted with the moves' `copied`, so
       * the totals above include them) and the time since this run began copying. A display that
       * shows the rate later divides by the time passed since (the CLI does), or a rate taken just
       * after a batch stands beside a later elapsed time.
       */
      readonly runCopied: number;
      readonly runElapsedMs: number;
    }
  | {
      /**
       * As a per-move phase (copy, sweep, verify, cleanup, purge) starts in this run, and after
       * each source/target pair ends its moves: how many of the leg's moves have finished this
       * phase, read from the journal, so a resumed run counts what an earlier run did.
       */
      readonly type: 'phaseProgress';
      readonly migrationId: string;
      readonly phase: Phase;
      readonly done: number;
      readonly total: number;
      /** Sent once as the phase starts in this run (its `done`: what earlier runs finished). */
      readonly atStart?: boolean;
    }
  | { readonly type: 'wait'; readonly migrationId: string; readonly reason: 'routerLease' | 'lock'; readonly ms: number }
  /** The adaptive throttle (`--max-p99-impact`) changed the copy's pace (`ThrottleDecision`). */
  | ({ readonly type: 'throttle'; readonly migrationId: string } & ThrottleDecision)
  | {
      readonly type: 'verified';
      readonly migrationId: string;
      readonly move: number;
      readonly checked: number;
      readonly repaired: number;
      readonly mismatches: number;
    }
  | { readonly type: 'cleanup'; readonly migrationId: string; readonly move: number; readonly deleted: number }
  /**
   * After each batch of deletes in cleanup or purge: the fences, placeholders or tombstones it
   * deleted. A range can hold thousands of them, so its end alone would leave an operator waiting
   * minutes without a line.
   */
  | { readonly type: 'markersDeleted'; readonly migrationId: string; readonly phase: Phase; readonly deleted: number }
  /**
   * As cleanup or purge lists a page of a pair's markers (before it deletes them): how many. Pairs list
   * as they start, so the sum over a phase is what was found so far, not a total known up front.
   */
  | { readonly type: 'markersListed'; readonly migrationId: string; readonly phase: Phase; readonly listed: number }
  | { readonly type: 'abortRequested'; readonly migrationId: string; readonly by: string }
  | {
      /** A transient fault stopped a step; the run backs off and repeats it (ADR 0006). */
      readonly type: 'retry';
      readonly migrationId: string;
      readonly phase: Phase;
      /** Attempt number within this fault (1 = the first retry). */
      readonly attempt: number;
      readonly delayMs: number;
      /** What is left of the retry budget after this delay (ms). */
      readonly budgetLeftMs: number;
      readonly code: string;
      readonly message: string;
    }
  | { readonly type: 'done'; readonly migrationId: string; readonly outcome: 'completed' | 'aborted'; readonly counters: MigrationCounters };

/** Milliseconds to copy `remaining` documents at `docsPerSec`: 0 when none remain, null at no rate. */
export function etaMs(remaining: number, docsPerSec: number): number | null {
  return remaining <= 0 ? 0 : docsPerSec > 0 ? Math.round((remaining * 1000) / docsPerSec) : null;
}

/**
 * The progress of move `i`: its own and the total copied/estimated counts (an estimate never below
 * what was copied), and the rate of this run, `runDocs` copied in `elapsedMs`, with the ETA it gives.
 */
export function progressEvent(j: MigrationJournal, i: number, elapsedMs: number, runDocs: number): MigrationEvent {
  const m = j.moves[i]!;
  let totalCopied = 0;
  let totalEstimated = 0;
  for (const x of j.moves) {
    totalCopied += x.copied;
    totalEstimated += Math.max(x.estimated, x.copied);
  }
  const docsPerSec = elapsedMs > 0 ? (runDocs * 1000) / elapsedMs : 0;
  return {
    type: 'progress',
    migrationId: j.id,
    phase: j.phase,
    move: i,
    moves: j.moves.length,
    from: m.from,
    to: m.to,
    copied: m.copied,
    estimated: Math.max(m.estimated, m.copied),
    totalCopied,
    totalEstimated,
    docsPerSec,
    etaMs: etaMs(totalEstimated - totalCopied, docsPerSec),
    runCopied: runDocs,
    runElapsedMs: elapsedMs,
  };
}

/**
 * Where each phase stands against the live routing state, from the journal alone (ADR 0002): the
 * epoch routers follow while it runs and the one it publishes. A resumed publishing phase may find
 * its state published already (the journal is saved after the compare-and-set); it then publishes
 * nothing and the next phase's line shows the epoch it found.
 */
function phaseEpochs(j: MigrationJournal): { readonly liveEpoch: number; readonly publishes: number | null } {
  switch (j.phase) {
    case 'publish':
      return { liveEpoch: j.epoch - 1, publishes: j.epoch };
    case 'copy':
    case 'sweep':
    case 'verify':
      return { liveEpoch: j.epoch, publishes: null };
    case 'commit':
      return { liveEpoch: j.epoch, publishes: j.stableEpoch };
    case 'cleanup':
      return { liveEpoch: j.stableEpoch, publishes: null };
    case 'settle':
      return { liveEpoch: j.stableEpoch, publishes: settledEpoch(j) };
    case 'purge':
    case 'done':
      return { liveEpoch: settledEpoch(j), publishes: null };
  }
}

/**
 * The event that opens the journal's current phase. It carries the live epoch besides the leg's: the
 * progress lines of cleanup, settle and purge said `at epoch 2` while routers were at 3 and 4.
 */
export function phaseEvent(j: MigrationJournal): MigrationEvent {
  return { type: 'phase', migrationId: j.id, phase: j.phase, epoch: j.epoch, ...phaseEpochs(j), reverse: j.reverse };
}

/** The journal flag that says a move has finished each per-move phase. */
const DONE_FLAG: Partial<Record<Phase, keyof MoveProgress>> = {
  copy: 'copyDone',
  sweep: 'sweepDone',
  verify: 'verifyDone',
  cleanup: 'cleanupDone',
  purge: 'purgeDone',
};

/** How far the journal's current phase is over its moves; null for a phase without per-move work. */
export function phaseProgressEvent(j: MigrationJournal): MigrationEvent | null {
  const flag = DONE_FLAG[j.phase];
  if (flag === undefined) return null;
  return { type: 'phaseProgress', migrationId: j.id, phase: j.phase, done: j.moves.filter((m) => m[flag] === true).length, total: j.moves.length };
}
