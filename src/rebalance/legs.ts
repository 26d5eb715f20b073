/**
 * The legs of a migration as data: one row per phase says which publish the router-lease wait
 * counts from, what work runs per move, which routing state is published, and which phase follows.
 * One small loop drives the rows, and turns a forward leg into its abort leg when asked (ADR 0002,
 * ADR 0003).
 */
import { ErrorCode, ShardkitConflictError } from '../errors.js';
import type { RoutingState } from '../router/routing-state.js';
import { phaseEvent, phaseProgressEvent } from './events.js';
import { Phase, freshMove, settledEpoch, type MigrationJournal } from './journal.js';
import { cleanupPair, copyPair, purgePair, sweepPair, type PairWork } from './move-work.js';
import { repairMissing, verifyPair } from './verify-work.js';
import { AbortRequested, type MigrationRun } from './run.js';

/** The journal timestamps a publish records and a lease wait counts from (wall time). */
type PublishStamp = 'publishedAt' | 'committedAt' | 'settledAt';

/** One phase of a leg. At most one of `perPair` and `publish` is set. */
interface LegStep {
  /** Before anything else, wait out the routers' lease on the state published at this timestamp. */
  readonly waitAfter?: PublishStamp;
  /** The work, once per source/target pair (pairs run concurrently, see {@link forEachPair}). */
  readonly perPair?: PairWork;
  /** The routing state to publish (compare-and-set), and the timestamp that records it published. */
  readonly publish?: { readonly state: (j: MigrationJournal) => RoutingState; readonly stamp: PublishStamp };
  readonly next: Phase;
}

/** `migrating(epoch, from -> to)`. */
function migratingState(j: MigrationJournal): RoutingState {
  return {
    phase: 'migrating',
    epoch: j.epoch,
    from: j.from,
    // Topology epochs follow state epochs so a router that keeps only the topology still orders them.
    topology: { ...j.to, epoch: j.epoch },
    migrationId: j.id,
  };
}

/**
 * `stable(stableEpoch, to)` with `settling`: routers leave a tombstone when they delete a key this
 * leg moved, until the settled state replaces this one after cleanup (ADR 0003).
 */
function committedState(j: MigrationJournal): RoutingState {
  return { phase: 'stable', epoch: j.stableEpoch, topology: { ...j.to, epoch: j.stableEpoch }, settling: { from: j.from, migrationId: j.id } };
}

/**
 * After cleanup has deleted the sources' fences (no copy of an old owner's document can be made any
 * more, and one in flight has landed: cleanup waited `leaseMs + opTimeoutMs` after the commit), the
 * tombstones stable-phase deletes leave are no longer needed: the same topology without `settling`.
 * Purge then waits for every router's lease on the settling state before it deletes them.
 */
function settledState(j: MigrationJournal): RoutingState {
  const settled = settledEpoch(j);
  return { phase: 'stable', epoch: settled, topology: { ...j.to, epoch: settled } };
}

/** The last phase progress each run reported, so a pair's end repeats no move's line. */
const lastProgress = new WeakMap<MigrationRun, string>();

/**
 * Report how far the phase is over its moves, from the journal, when that changed; `atStart` as the
 * phase starts in this run (always reported: it says where rates count from).
 */
function emitPhaseProgress(run: MigrationRun, j: MigrationJournal, atStart = false): void {
  const progress = phaseProgressEvent(j);
  if (progress === null || progress.type !== 'phaseProgress') return;
  const key = `${progress.migrationId}:${progress.phase}:${progress.done}`;
  if (!atStart && lastProgress.get(run) === key) return;
  lastProgress.set(run, key);
  run.emit(atStart ? { ...progress, atStart } : progress);
}

/**
 * Run `work` on every source/target pair of the journal's moves, up to `concurrency` pairs at once.
 * Pairs touch disjoint ranges and every step is idempotent, so their order does not matter. When
 * one pair fails, no further pair starts, the running ones stop at their next batch, and the first
 * failure is thrown once all have ended: the leg loop never acts (an abort turning the leg, a resume)
 * while a pair's store call is still in flight.
 */
export async function forEachPair(run: MigrationRun, j: MigrationJournal, work: PairWork): Promise<void> {
  const queue = pairsOf(j);
  let failure: { error: unknown } | null = null;
  const stopped = (): boolean => failure !== null;
  const worker = async (): Promise<void> => {
    for (let idx = queue.shift(); idx !== undefined && !stopped(); idx = queue.shift()) {
      try {
        await work(run, j, idx, stopped);
        emitPhaseProgress(run, j);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(run.s.concurrency, queue.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

/** The journal's moves by source/target pair: indices into `j.moves`, in plan order. */
function pairsOf(j: MigrationJournal): number[][] {
  const pairs = new Map<string, number[]>();
  j.moves.forEach((m, i) => {
    const key = `${m.from}\u0000${m.to}`;
    const idx = pairs.get(key);
    if (idx === undefined) pairs.set(key, [i]);
    else idx.push(i);
  });
  return [...pairs.values()];
}

/** The protocol of one leg, phase by phase. */
const LEG: Readonly<Record<Exclude<Phase, 'done'>, LegStep>> = {
  [Phase.publish]: { publish: { state: migratingState, stamp: 'publishedAt' }, next: Phase.copy },
  [Phase.copy]: { perPair: copyPair, next: Phase.sweep },
  [Phase.sweep]: { waitAfter: 'publishedAt', perPair: sweepPair, next: Phase.verify },
  [Phase.verify]: { perPair: verifyPair, next: Phase.commit },
  [Phase.commit]: { publish: { state: committedState, stamp: 'committedAt' }, next: Phase.cleanup },
  [Phase.cleanup]: { waitAfter: 'committedAt', perPair: cleanupPair, next: Phase.settle },
  [Phase.settle]: { publish: { state: settledState, stamp: 'settledAt' }, next: Phase.purge },
  [Phase.purge]: { waitAfter: 'settledAt', perPair: purgePair, next: Phase.done },
};

/**
 * Run the journal's legs to the end. An abort request noticed at a checkpoint turns the forward leg
 * into its abort leg, which then runs to the end in its place.
 */
export async function runLegs(run: MigrationRun, j: MigrationJournal): Promise<void> {
  run.begin();
  for (;;) {
    try {
      await runLeg(run, j);
      return;
    } catch (error) {
      if (!(error instanceof AbortRequested)) throw error;
      await beginReverse(run, j);
    }
  }
}

async function runLeg(run: MigrationRun, j: MigrationJournal): Promise<void> {
  const { clock } = run.s;
  while (j.phase !== Phase.done) {
    run.emit(phaseEvent(j));
    const step = LEG[j.phase];
    if (step.waitAfter !== undefined) await run.waitRouters(j, j[step.waitAfter]);
    if (step.perPair !== undefined) {
      // Where the phase starts in this run (what earlier runs finished), so rates count from here.
      emitPhaseProgress(run, j, true);
      await forEachPair(run, j, step.perPair);
    }
    if (step.publish !== undefined) {
      await publish(run, j, step.publish.state(j));
      run.published();
      // Recorded after the compare-and-set returned, so the wait that counts from it is never short.
      j[step.publish.stamp] = clock.wall();
    }
    j.phase = step.next;
    if (j.phase === Phase.done) {
      j.finishedAt = clock.wall();
      j.outcome = j.reverse ? 'aborted' : 'completed';
    }
    await run.save(j);
  }
  run.emit({ type: 'done', migrationId: j.id, outcome: j.outcome ?? 'completed', counters: { ...j.counters } });
}

/**
 * Publish `next` by compare-and-set from epoch `next.epoch - 1`. A resume that finds it published
 * already (same phase and epoch, and for a migrating state the same migration) does nothing; any
 * other live epoch means someone else changed the routing state: `shardkit.migration.planMismatch`.
 */
async function publish(run: MigrationRun, j: MigrationJournal, next: RoutingState): Promise<void> {
  const { config } = run.s;
  const live = await config.load();
  const published =
    live !== null &&
    live.phase === next.phase &&
    live.epoch === next.epoch &&
    (next.phase !== 'migrating' || (live.phase === 'migrating' && live.migrationId === next.migrationId));
  if (published) return;
  const expected = next.epoch - 1;
  if (live === null || live.epoch !== expected) {
    throw new ShardkitConflictError(
      ErrorCode.planMismatch,
      `routing state moved to epoch ${live?.epoch ?? 'none'} under migration ${j.id} (expected ${expected})`,
    );
  }
  await config.compareAndSet(expected, next);
}

/** Turn a forward leg into its abort leg: same protocol, owners swapped, fence epoch + 1. */
export async function beginReverse(run: MigrationRun, j: MigrationJournal): Promise<void> {
  if (j.reverse) return;
  const { config, clock, owner } = run.s;
  const live = await config.load();
  await run.saveControl(j, { abort: false, handledBy: owner, at: clock.wall() });
  if (j.phase === Phase.publish && live !== null && live.epoch === j.baseEpoch) {
    // Never published: nothing moved, nothing to carry back.
    j.phase = Phase.done;
    j.outcome = 'aborted';
    j.finishedAt = clock.wall();
    await run.save(j);
    return;
  }
  // Before the new owners become the old ones, give every entry the forward leg fenced a copy at
  // its target: routers on the abort leg read a stale fence at the (new) old owner as "no copy
  // here", so data that only a stale fence holds would read as absent until the sweep lifted it.
  if (j.phase !== Phase.publish) {
    for (const idx of pairsOf(j)) await repairMissing(run, j, idx.map((i) => j.moves[i]!));
  }
  const back = j.from;
  j.reverse = true;
  j.from = j.to;
  j.to = back;
  j.epoch = j.epoch + 1;
  j.stableEpoch = j.epoch + 1;
  j.phase = Phase.publish;
  j.publishedAt = null;
  j.committedAt = null;
  j.settledAt = null;
  j.moves = j.moves.map((m) => freshMove(m.start, m.end, m.to, m.from, m.copied));
  await run.save(j);
}
