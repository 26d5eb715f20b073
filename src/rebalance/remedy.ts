/**
 * The way out of every state a migration can stop in (ADR 0006): a pure function from what the
 * config store holds (the journal, the lock, the live routing state, the abort control entry) to
 * the state's name, the one CLI command that gets out of it, and why. `rebalance status` prints it,
 * so no state needs a hand edit of the config store.
 */
import type { LockInfo } from '../config-store/types.js';
import type { RoutingState } from '../router/routing-state.js';
import { Phase, settledEpoch, type MigrationJournal } from './journal.js';

/** The states {@link remedyFor} names. */
export const RemedyState = {
  /** Nothing is published yet. */
  uninitialized: 'uninitialized',
  /** No migration recorded, or the last one finished: a new one may start. */
  idle: 'idle',
  /** A migrator holds the lock and runs the migration (it retries transient faults itself). */
  running: 'running',
  /** A migrator holds the lock and was asked to abort: it switches at its next checkpoint. */
  abortRequested: 'abortRequested',
  /** Nobody runs an uncommitted forward leg (killed, interrupted, or out of retry budget). */
  stopped: 'stopped',
  /** Nobody runs a forward leg past its commit: it can only be finished, not aborted. */
  stoppedCommitted: 'stoppedCommitted',
  /** Nobody runs an abort leg (or an abort asked of a migrator that then stopped). */
  stoppedAborting: 'stoppedAborting',
  /**
   * The live routing state is outside the journal's epochs, or migrating with no journal recording
   * it. Migrators cannot reach it (journal before publish, fenced journal writes: ADR 0002, 0003).
   */
  diverged: 'diverged',
} as const;
/** Union of {@link RemedyState} names. */
export type RemedyState = (typeof RemedyState)[keyof typeof RemedyState];

/** A stuck (or healthy) state, the CLI command that gets out of it, and why. */
export interface Remedy {
  readonly state: RemedyState;
  /** One shell command, or null when there is nothing to do from the CLI (see `why`). */
  readonly command: string | null;
  readonly why: string;
}

/** What the config store holds about one topology. */
export interface RemedyInput {
  readonly live: RoutingState | null;
  readonly journal: MigrationJournal | null;
  /** The lock while its lease runs (`readLock()`), else null. */
  readonly lock: LockInfo | null;
  /** The control entry (`migration-control:<name>`), or null. */
  readonly control: Readonly<Record<string, unknown>> | null;
  /** Wall time now, for the lock's remaining lease. */
  readonly now: number;
}

const COMMITTED: readonly Phase[] = [Phase.commit, Phase.cleanup, Phase.settle, Phase.purge];

/** The way out of `input`'s state, with `configPath` in the commands (default `<file>`). */
export function remedyFor(input: RemedyInput, configPath = '<file>'): Remedy {
  const { live, journal: j, lock, control, now } = input;
  const cfg = `--config ${configPath}`;
  if (live === null) return { state: RemedyState.uninitialized, command: `shardkit init ${cfg}`, why: 'no routing state is published yet' };
  if (j === null || j.phase === Phase.done) {
    if (live.phase === 'migrating') {
      return {
        state: RemedyState.diverged,
        command: null,
        why:
          `the routing state is migrating (epoch ${live.epoch}) but no unfinished journal records it: only a publish outside shardkit ` +
          'does this (a migrator writes its journal before it publishes); restore the config store from the backup taken before that publish',
      };
    }
    const last = j === null ? 'no migration is recorded' : `migration ${j.id} finished (${j.outcome ?? 'completed'})`;
    return { state: RemedyState.idle, command: `shardkit rebalance ${cfg} --to <topology file>`, why: `${last}; a new migration may start` };
  }
  // A leg starts from the state before its fence epoch (e for the forward leg, e+1 for its abort).
  const low = j.epoch - 1;
  if (live.epoch < low || live.epoch > settledEpoch(j)) {
    return {
      state: RemedyState.diverged,
      command: null,
      why:
        `migration ${j.id} expects the live epoch between ${low} and ${settledEpoch(j)}, but it is ${live.epoch}: the routing state was ` +
        'published outside this migration (lock generations keep a stale migrator from doing so, ADR 0003); restore the config store from backup',
    };
  }
  const abortAsked = control?.['abort'] === true && !j.reverse;
  const by = String(control?.['by'] ?? 'another process');
  if (lock !== null) {
    const left = Math.max(0, Math.ceil((lock.expiresAt - now) / 1000));
    if (abortAsked) {
      return {
        state: RemedyState.abortRequested,
        command: `shardkit rebalance status ${cfg}`,
        why: `${lock.owner} runs migration ${j.id} (phase ${j.phase}); ${by} asked it to abort: it carries everything back from its next checkpoint`,
      };
    }
    return {
      state: RemedyState.running,
      command: `shardkit rebalance status ${cfg}`,
      why:
        `${lock.owner} runs migration ${j.id} (phase ${j.phase}) and retries transient faults itself; if that process is gone, its lock ` +
        `lapses in ${left} s and \`shardkit rebalance resume ${cfg}\` takes over`,
    };
  }
  if (j.reverse || abortAsked) {
    return {
      state: RemedyState.stoppedAborting,
      command: `shardkit rebalance resume ${cfg}`,
      why: j.reverse
        ? `nobody runs the abort of migration ${j.id} (phase ${j.phase}): resume carries the rest back to the old owners`
        : `${by} asked to abort migration ${j.id}, and nobody runs it: resume carries everything back (abort does the same)`,
    };
  }
  if (COMMITTED.includes(j.phase)) {
    return {
      state: RemedyState.stoppedCommitted,
      command: `shardkit rebalance resume ${cfg}`,
      why: `nobody runs migration ${j.id}, committed (phase ${j.phase}): resume finishes it; abort is refused past the commit (migrate back afterwards)`,
    };
  }
  return {
    state: RemedyState.stopped,
    command: `shardkit rebalance resume ${cfg}`,
    why: `nobody runs migration ${j.id} (phase ${j.phase}): resume continues it from its journal, or \`shardkit rebalance abort ${cfg}\` carries everything back`,
  };
}
