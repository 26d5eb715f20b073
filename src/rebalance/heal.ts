/**
 * How a running migration survives transient faults (ADR 0006): a step that fails with a retryable
 * store or config-store error (timeout, unreachable, not primary, circuit open) or whose lock lease
 * ran out is repeated from the last checkpoint, after an exponential backoff with full jitter, once
 * the lock is confirmed still ours. Every step is idempotent by the protocol (ADR 0002), so
 * repeating one is what a resume does, without the operator. Only a fault that outlasts the retry
 * budget stops the run, with the remedy in its message.
 */
import { ErrorCode, ShardkitConflictError, ShardkitError, isRetryableError } from '../errors.js';
import { Phase, journalFromRecord, journalKey, type MigrationJournal } from './journal.js';
import { LockLapsedError } from './lock.js';
import { interruptedError, type MigrationRun } from './run.js';

/**
 * The delay before retry `attempt` (0-based) of one fault: uniform in `[0, min(max, base x 2^attempt)]`
 * ("full jitter"), so migrators and routers that met the same fault do not retry in step.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** True for a fault a repeated step may get past: a transient store error, or this run's own lapse. */
export function isHealable(error: unknown): boolean {
  return isRetryableError(error) || error instanceof LockLapsedError;
}

/**
 * The work of one run on its journal. `reloaded` is true when the journal was read back from the
 * config store after a fault (its first steps, such as the initial checkpoint, are then done).
 */
export type RunBody = (j: MigrationJournal, reloaded: boolean) => Promise<void>;

/**
 * Run `body` on the journal until it ends, repeating it after each healable fault from the
 * checkpoint in the config store. A fault's retries end when the run makes progress again; a fault
 * that keeps failing for `retryBudgetMs` stops the run with its own code and the way out.
 * Returns the journal as it ended.
 */
export async function runHealing(run: MigrationRun, first: MigrationJournal, body: RunBody): Promise<MigrationJournal> {
  const { clock, retryBudgetMs, retryBaseDelayMs, retryMaxDelayMs, random } = run.s;
  let j = first;
  let reloaded = false;
  let faultSince: number | undefined;
  let attempt = 0;
  for (;;) {
    try {
      if (faultSince !== undefined) {
        // Before anything else: is the lock still ours? Then the journal in the store is the last word.
        await run.lock.recover();
        const fresh = await reload(run, j);
        if (fresh !== null) {
          j = fresh;
          reloaded = true;
        }
        if (j.phase === Phase.done) return j;
      }
      await body(j, reloaded);
      return j;
    } catch (error) {
      if (!isHealable(error) || run.interrupted()) throw error;
      const now = clock.now();
      // Progress since the fault began means the run moved on: this is a new fault.
      if (faultSince === undefined || run.progressAt > faultSince) {
        faultSince = now;
        attempt = 0;
      }
      const left = faultSince + retryBudgetMs - now;
      if (left <= 0) throw exhausted(j, error, attempt, now - faultSince, retryBudgetMs);
      const delayMs = Math.min(left, backoffDelay(attempt, retryBaseDelayMs, retryMaxDelayMs, random));
      attempt++;
      const e = error as ShardkitError;
      run.emit({ type: 'retry', migrationId: j.id, phase: j.phase, attempt, delayMs, budgetLeftMs: left - delayMs, code: e.code, message: e.message });
      await run.pause(delayMs);
      if (run.interrupted()) throw interruptedError(j);
    }
  }
}

/** The journal as the config store holds it, or null when the run's first checkpoint never landed. */
async function reload(run: MigrationRun, j: MigrationJournal): Promise<MigrationJournal | null> {
  const record = await run.s.config.readJournal(journalKey(j.name));
  if (record === null) return null;
  const fresh = journalFromRecord(record);
  if (fresh.id !== j.id) {
    throw new ShardkitConflictError(ErrorCode.migrationState, `the journal of "${j.name}" now records migration ${fresh.id}, not ${j.id}: see \`shardkit rebalance status\``);
  }
  fresh.owner = run.s.owner;
  return fresh;
}

/** The fault outlasted the budget: same code (a later resume may succeed), and what to do. */
function exhausted(j: MigrationJournal, error: unknown, attempts: number, spentMs: number, budgetMs: number): ShardkitError {
  const e = error as ShardkitError;
  const ErrorClass = e.constructor as new (code: ErrorCode, message: string, options: { cause: unknown; shardId?: string }) => ShardkitError;
  return new ErrorClass(
    e.code,
    `migration ${j.id} stopped in phase ${j.phase}: ${e.message}; still failing after ${attempts} ${attempts === 1 ? 'retry' : 'retries'} ` +
      `over ${Math.round(spentMs)} ms (retry budget ${budgetMs} ms). The journal is consistent: once the cause is fixed, ` +
      'continue with `shardkit rebalance resume --config <file>` (or undo with `shardkit rebalance abort --config <file>`)',
    { cause: error, ...(e.shardId === undefined ? {} : { shardId: e.shardId }) },
  );
}
