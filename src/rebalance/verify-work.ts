/**
 * Verify, per source/target pair (ADR 0002 item 2): the checks of every move of the pair come from
 * one pass over all the pair's ranges at each of its two shards, not one per range or check, and the repair of what a kill
 * between fence and copy left behind lists the pair's fenced keys in one query per page.
 */
import { ErrorCode, ShardkitConflictError } from '../errors.js';
import { idKey } from '../stores/bson-order.js';
import type { ShardStore, StoreFilter } from '../stores/shard-store.js';
import { UNFENCED } from '../stores/store-filters.js';
import type { MigrationJournal, MoveProgress } from './journal.js';
import { batchesOf, install, listedPages, LISTING_PAGE, moveAt, rangeOf, spansOf, type PairWork } from './move-work.js';
import type { MigrationRun } from './run.js';

/** What verify found for one move. */
interface MoveCheck {
  checked: number;
  repaired: number;
  mismatches: number;
  unfenced: number;
  dataRelics: number;
}

/** The source entries this leg fenced that hold data (documents and tombstones, not placeholders). */
function fencedWithData(j: MigrationJournal): StoreFilter {
  return { _moved: j.epoch, _ph: { $exists: false } };
}


/**
 * Verify the pair's moves: every source entry fenced by this leg that holds data (a document or a
 * tombstone) has a current entry at the target, no unfenced entry is left at the source and no
 * stale fence with data at the target. When nobody wrote to a range during the migration, the
 * server-side checksums of `(_id, _v)` agree and no key is read at all; otherwise the fenced `_id`s
 * of the disagreeing ranges are listed without bodies and looked up at the target. A missing one
 * (the copier or a router was killed between fence and copy) is carried over and checked again; only
 * what is still missing counts as a mismatch, and any mismatch fails with
 * `shardkit.migration.verifyFailed` before the commit. Two passes per pair (one over the source, one
 * over the target, each a checksum and a count), whatever the number of its ranges.
 */
export const verifyPair: PairWork = async (run, j, idx, stopped) => {
  const open = idx.filter((i) => !j.moves[i]!.verifyDone);
  if (open.length === 0 || stopped()) return;
  await run.checkpoint(j, true);
  const moves = open.map((i) => j.moves[i]!);
  const source = await run.s.pool.store(moves[0]!.from);
  const target = await run.s.pool.store(moves[0]!.to);
  const ranges = moves.map(rangeOf);
  const fenced = fencedWithData(j);
  // After the sweep no router adds an unfenced entry at the source or a relic at the target, so the
  // two passes may run at once: each reads its shard once for a checksum and a count.
  const [from, to] = await Promise.all([
    source.tallyRanges(ranges, { checksums: [fenced], counts: [UNFENCED] }),
    target.tallyRanges(ranges, { checksums: [UNFENCED], counts: [{ _moved: { $lt: j.epoch }, _ph: { $exists: false } }] }),
  ]);
  const fromSums = from.checksums[0]!;
  const toSums = to.checksums[0]!;
  const checks: MoveCheck[] = moves.map((_, k) => ({
    checked: fromSums[k]!.count,
    repaired: 0,
    mismatches: 0,
    unfenced: from.counts[0]?.[k] ?? 0,
    dataRelics: to.counts[0]?.[k] ?? 0,
  }));
  const differ = moves.filter((_, k) => fromSums[k]!.count !== toSums[k]!.count || fromSums[k]!.checksum !== toSums[k]!.checksum);
  if (differ.length > 0) {
    const repair = await repairMissing(run, j, differ);
    const counted = await source.countRanges(differ.map(rangeOf), fenced);
    differ.forEach((m, d) => {
      const c = checks[moves.indexOf(m)]!;
      const r = repair[d]!;
      c.checked = r.checked;
      c.repaired = r.repaired;
      c.mismatches += r.stillMissing + Math.abs((counted.counts[d] ?? 0) - r.checked);
    });
  }
  await report(run, j, open, checks);
};

/** Emit each move's result; fail on the first move with a mismatch, else mark them all verified. */
async function report(run: MigrationRun, j: MigrationJournal, open: readonly number[], checks: readonly MoveCheck[]): Promise<void> {
  open.forEach((i, k) => {
    const c = checks[k]!;
    run.emit({ type: 'verified', migrationId: j.id, move: i, checked: c.checked, repaired: c.repaired, mismatches: c.mismatches + c.unfenced + c.dataRelics });
  });
  const bad = checks.findIndex((c) => c.mismatches + c.unfenced + c.dataRelics > 0);
  if (bad >= 0) {
    await run.save(j);
    const i = open[bad]!;
    const m = j.moves[i]!;
    const c = checks[bad]!;
    throw new ShardkitConflictError(
      ErrorCode.verifyFailed,
      `verify failed for move ${i} (${m.from} -> ${m.to}, (${m.start}, ${m.end}]): ${c.mismatches + c.unfenced + c.dataRelics} mismatch(es) among ` +
        `${c.checked} fenced entries, ${c.unfenced} unfenced left at the source, ${c.dataRelics} stale fences with data at the target`,
      { shardId: m.to },
    );
  }
  for (const i of open) j.moves[i]!.verifyDone = true;
  await run.save(j);
}

/**
 * List the `_id`s of the source entries this leg fenced that hold data in `moves` (one source/target
 * pair), find those the target lacks, and carry them over. Always safe: a fenced entry is final at
 * the source and insert-if-absent lets whatever the target holds win. Answers per move, in order.
 */
export async function repairMissing(
  run: MigrationRun,
  j: MigrationJournal,
  moves: readonly MoveProgress[],
): Promise<Array<{ checked: number; repaired: number; stillMissing: number }>> {
  const out = moves.map(() => ({ checked: 0, repaired: 0, stillMissing: 0 }));
  if (moves.length === 0) return out;
  const source = await run.s.pool.store(moves[0]!.from);
  const target = await run.s.pool.store(moves[0]!.to);
  const { batch } = run.s;
  const fenced = fencedWithData(j);
  // Pages of keys (on a server that scans, each page is a pass over the source), looked up and
  // repaired a batch at a time.
  for await (const listed of listedPages(source, spansOf(moves), Math.max(batch, LISTING_PAGE), fenced)) {
    j.counters.keysRead += listed.length;
    for (const k of listed) out[moveAt(moves, k._h)]!.checked++;
    for (const keys of batchesOf(listed, batch)) {
      await run.checkpoint(j, false);
      const missing = await missingAt(j, target, keys.map((k) => k._id));
      if (missing.length === 0) continue;
      const bodies = await source.find({ _id: { $in: missing }, ...fenced }, { exactTypes: true });
      j.counters.docsRead += bodies.length;
      await install(run, j, target, bodies);
      for (const b of bodies) out[moveAt(moves, b._h)]!.repaired++;
      j.counters.repaired += bodies.length;
      const still = new Set((await missingAt(j, target, missing)).map(idKey));
      for (const k of keys) if (still.has(idKey(k._id))) out[moveAt(moves, k._h)]!.stillMissing++;
    }
  }
  return out;
}

async function missingAt(j: MigrationJournal, target: ShardStore, ids: readonly unknown[]): Promise<unknown[]> {
  if (ids.length === 0) return [];
  const present = await target.find({ _id: { $in: ids }, _moved: { $exists: false } }, { projection: { _id: 1 } });
  j.counters.keysRead += present.length;
  const have = new Set(present.map((d) => idKey(d._id)));
  return ids.filter((id) => !have.has(idKey(id)));
}
