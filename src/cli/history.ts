/**
 * The record of past migrations that `rebalance history` lists. The config store keeps one journal
 * per topology, replaced by the next migration; so when the CLI sees a finished journal (at the end
 * of a run, or before starting the next one) it appends a summary to a history entry beside it.
 */
import type { ConfigStore } from '../config-store/types.js';
import { journalFromRecord, journalKey, settledEpoch, type MigrationJournal } from '../rebalance/journal.js';
import { formatDuration } from './progress.js';
import { formatTable } from './table.js';

/** One past (or the current) migration, summarized. */
export interface HistoryEntry {
  readonly id: string;
  /** `completed`, `aborted`, or `running`/`stopped` for the journal's unfinished migration. */
  readonly outcome: 'completed' | 'aborted' | 'running' | 'stopped';
  /** Phase of an unfinished migration (`done` once finished). */
  readonly phase: string;
  readonly fromEpoch: number;
  /** Epoch of the state it left published: settled for a finished one, its leg's for an unfinished one. */
  readonly toEpoch: number;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly moves: number;
  readonly docsMoved: number;
  readonly docsRead: number;
  readonly swept: number;
  readonly repaired: number;
  readonly deleted: number;
}

/** Entries kept: enough for an operator's look back, bounded so the entry stays small. */
export const HISTORY_LIMIT = 100;

/** Config-store key of the history of topology `name`. */
export function historyKey(name: string): string {
  return `migration-history:${name}`;
}

/** The summary of a journal; `running` tells an unfinished one's holder is alive. */
export function summarizeJournal(j: MigrationJournal, running: boolean): HistoryEntry {
  const finished = j.phase === 'done';
  return {
    id: j.id,
    outcome: finished ? (j.outcome ?? 'completed') : running ? 'running' : 'stopped',
    phase: j.phase,
    fromEpoch: j.baseEpoch,
    toEpoch: finished ? settledEpoch(j) : j.epoch,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    moves: j.moves.length,
    docsMoved: j.counters.docsMoved,
    docsRead: j.counters.docsRead,
    swept: j.counters.swept,
    repaired: j.counters.repaired,
    deleted: j.counters.deleted,
  };
}

async function readEntries(config: ConfigStore, name: string): Promise<HistoryEntry[]> {
  const record = await config.readJournal(historyKey(name));
  const entries = record?.['entries'];
  return Array.isArray(entries) ? (entries as HistoryEntry[]) : [];
}

async function readCurrent(config: ConfigStore, name: string): Promise<MigrationJournal | null> {
  const record = await config.readJournal(journalKey(name));
  return record === null ? null : journalFromRecord(record);
}

/** Append the journal's migration to the history if it finished and is not there yet. */
export async function archiveFinished(config: ConfigStore, name: string): Promise<void> {
  const j = await readCurrent(config, name);
  if (j === null || j.phase !== 'done') return;
  const entries = await readEntries(config, name);
  if (entries.some((e) => e.id === j.id)) return;
  const next = [...entries, summarizeJournal(j, false)].slice(-HISTORY_LIMIT);
  await config.writeJournal(historyKey(name), { format: 'shardkit.history/1', entries: next });
}

/** Past migrations, oldest first, with the journal's own (finished or not) last. */
export async function readHistory(config: ConfigStore, name: string): Promise<HistoryEntry[]> {
  const entries = await readEntries(config, name);
  const j = await readCurrent(config, name);
  if (j === null || entries.some((e) => e.id === j.id)) return entries;
  return [...entries, summarizeJournal(j, (await config.readLock()) !== null)];
}

/** The human form of `rebalance history`: one row per migration, oldest first. */
export function formatHistory(name: string, entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return `no migration of "${name}" is recorded\n`;
  const rows = entries.map((e) => [
    e.id,
    e.outcome === 'running' || e.outcome === 'stopped' ? `${e.outcome} (${e.phase})` : e.outcome,
    `${e.fromEpoch} -> ${e.toEpoch}`,
    new Date(e.startedAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    e.finishedAt === null ? '-' : formatDuration(e.finishedAt - e.startedAt),
    String(e.moves),
    String(e.docsMoved),
    e.docsMoved === 0 ? '-' : (e.docsRead / e.docsMoved).toFixed(3),
    String(e.swept),
    String(e.repaired),
  ]);
  return formatTable(
    ['migration', 'outcome', 'epochs', 'started', 'took', 'ranges', 'moved', 'reads/moved', 'swept', 'repaired'],
    rows,
    ['left', 'left', 'left', 'left', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
}
