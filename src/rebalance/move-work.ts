/**
 * The per-move work of each phase (ADR 0002, ADR 0003): the fence-and-carry pass shared by copy and
 * sweep, the relic lifting that ends a sweep, verify with its repair, and the marker deletion
 * shared by cleanup and purge. Each step checkpoints the journal so a resume repeats at most the
 * batch in flight.
 */
import { sleep } from '../clock.js';
import { ErrorCode, ShardkitConflictError } from '../errors.js';
import { idKey } from '../stores/bson-order.js';
import type { HashRange, RangeCursor, RangeKey, RangeSpan, ShardStore, StoreFilter, StoredDocument } from '../stores/shard-store.js';
import type { MigrationJournal, MoveProgress } from './journal.js';
import type { MigrationRun } from './run.js';
import { AdaptiveThrottle } from './throttle.js';

/** The work of one phase on move `i` of the journal. */
export type MoveWork = (run: MigrationRun, j: MigrationJournal, i: number) => Promise<void>;

function stripFence(doc: StoredDocument): StoredDocument {
  const { _moved: _ignored, ...rest } = doc;
  return rest;
}

function cursorOf(doc: RangeKey): RangeCursor {
  return { h: doc._h, id: doc._id };
}

function rangeOf(m: MoveProgress): HashRange {
  return { start: m.start, end: m.end };
}

/** How copy and sweep differ within their one fence-and-carry loop. */
interface CarryPass {
  readonly cursor: 'cursor' | 'sweepCursor';
  readonly done: 'copyDone' | 'sweepDone';
  /** The sweep counts what it carries as swept: late writes the copy could not have seen. */
  readonly countSwept: boolean;
  /** Run once a move's range is exhausted, before the move is marked done. */
  readonly finish?: (run: MigrationRun, j: MigrationJournal, m: MoveProgress, source: ShardStore, target: ShardStore) => Promise<void>;
  /** Report progress after each batch, and feed an adaptive throttle with probes of the pair's shards. */
  readonly progress: boolean;
}

/** An `_id` no application stores: the probe is an indexed point read that finds nothing. */
const PROBE_ID = '\u0000shardkit-probe';
/** Pause between two probe rounds: enough samples for a decision every few seconds, negligible load. */
const PROBE_MS = 25;

/**
 * Time point reads on `stores` (what an application's point read costs there now) into an adaptive
 * throttle: until its baseline is taken when `calibrate` (before any copy), else until `done()`.
 */
async function probe(run: MigrationRun, stores: readonly ShardStore[], calibrate: boolean, done: () => boolean): Promise<void> {
  const { throttle, clock } = run.s;
  if (!(throttle instanceof AdaptiveThrottle)) return;
  while (calibrate ? throttle.calibrating : !done()) {
    for (const store of stores) {
      const t0 = clock.now();
      try {
        await store.get(PROBE_ID);
      } catch {
        continue; // A failed probe says nothing about latency; the copy's own calls report the failure.
      }
      throttle.observe(clock.now() - t0);
    }
    await sleep(clock, PROBE_MS);
  }
}

/**
 * The work of one phase on the moves of one source/target pair (`idx`, indices into the journal's
 * moves, in plan order). `stopped` turns true when a concurrent pair failed: the work then ends at
 * its next batch without marking anything done, so the caller can hand the failure on.
 */
export type PairWork = (run: MigrationRun, j: MigrationJournal, idx: readonly number[], stopped: () => boolean) => Promise<void>;

function inMove(m: MoveProgress, h: number): boolean {
  return m.start < h && h <= m.end;
}

/**
 * The spans still to list after a page of `keys` (in `(_h, _id)` order, `limit` asked): a short page
 * ends every span; otherwise a span wholly before the page's last key is exhausted, the span holding
 * it resumes after it, later spans keep their cursor.
 */
function spansAfter(pass: CarryPass, open: readonly MoveProgress[], keys: readonly RangeKey[], limit: number): Array<{ m: MoveProgress; span: RangeSpan }> {
  const last = keys[keys.length - 1];
  if (last === undefined || keys.length < limit) return [];
  return open
    .filter((m) => m.end >= last._h)
    .map((m) => ({ m, span: { range: rangeOf(m), after: inMove(m, last._h) ? cursorOf(last) : m[pass.cursor] } }));
}

/**
 * Fence and carry every unfenced entry of the pair's ranges, a batch at a time: the keys of all the
 * pair's open ranges come from one listing per page (the next page is listed while this one is
 * fenced and carried), the bodies from the fence itself, by `_id`. Cursors advance per move and the
 * journal is checkpointed after each batch; a resume lists from the cursors again, and entries
 * fenced but not carried before a kill are no longer listed (verify repairs them, ADR 0002). The
 * sweep runs the same pass after the router-lease wait: only what late writers left unfenced comes back.
 */
async function carry(pass: CarryPass, run: MigrationRun, j: MigrationJournal, idx: readonly number[], stopped: () => boolean): Promise<void> {
  const moves = idx.map((i) => j.moves[i]!);
  const first = moves[0];
  if (first === undefined) return;
  const source = await run.s.pool.store(first.from);
  const target = await run.s.pool.store(first.to);
  const open = moves.filter((m) => !m[pass.done]);
  if (open.length === 0) return;
  let finished = false;
  let probing: Promise<void> = Promise.resolve();
  if (pass.progress) {
    await probe(run, [source, target], true, () => true);
    probing = probe(run, [source, target], false, () => finished || stopped());
  }
  try {
    await carryBatches(pass, run, j, idx, open, source, target, stopped);
  } finally {
    finished = true;
    await probing;
  }
}

async function carryBatches(
  pass: CarryPass,
  run: MigrationRun,
  j: MigrationJournal,
  idx: readonly number[],
  openAtStart: readonly MoveProgress[],
  source: ShardStore,
  target: ShardStore,
  stopped: () => boolean,
): Promise<void> {
  const moves = idx.map((i) => j.moves[i]!);
  const first = moves[0]!;
  const { batch } = run.s;
  let open = openAtStart;
  let pending: Promise<RangeKey[]> | null = null;
  while (open.length > 0 && !stopped()) {
    await run.checkpoint(j, true);
    const keys = await (pending ?? source.unfencedKeys(open.map((m) => ({ range: rangeOf(m), after: m[pass.cursor] })), batch));
    j.counters.keysListed += keys.length;
    const next = spansAfter(pass, open, keys, batch);
    pending = next.length === 0 ? null : source.unfencedKeys(next.map((n) => n.span), batch);
    // Awaited at the next batch; until then a failure must not count as unhandled.
    pending?.catch(() => undefined);
    const docs = await source.fenceIds(keys.map((k) => k._id), j.epoch);
    j.counters.docsRead += docs.length;
    // The pair's ranges are disjoint, so their hull bounds the delete of relics on the abort leg.
    const carried = await install(run, j, { start: first.start, end: moves[moves.length - 1]!.end }, target, docs);
    j.counters.docsMoved += carried;
    if (pass.countSwept) j.counters.swept += carried;
    for (const d of docs) {
      const m = d._ph === true ? undefined : moves.find((x) => inMove(x, d._h));
      if (m !== undefined) m.copied++;
    }
    const still = new Set(next.map((n) => n.m));
    for (const m of open) {
      const cursor = next.find((n) => n.m === m)?.span.after;
      if (cursor !== undefined) m[pass.cursor] = cursor;
      if (still.has(m)) continue;
      if (pass.finish !== undefined) await pass.finish(run, j, m, source, target);
      m[pass.done] = true;
    }
    open = open.filter((m) => still.has(m));
    await run.save(j);
    run.booked(keys.length);
    if (pass.progress) run.progress(j, idx[Math.max(0, moves.findIndex((m) => m.end >= (keys[keys.length - 1]?._h ?? 0)))]!);
  }
}

/** Copy: fence + carry the pair's ranges, from their cursors on. */
export const copyPair: PairWork = (run, j, idx, stopped) => carry({ cursor: 'cursor', done: 'copyDone', countSwept: false, progress: true }, run, j, idx, stopped);

/** Sweep: carry what late writers left unfenced, then lift the relics at the target. */
export const sweepPair: PairWork = (run, j, idx, stopped) =>
  carry({ cursor: 'sweepCursor', done: 'sweepDone', countSwept: true, finish: liftRelics, progress: false }, run, j, idx, stopped);

/**
 * Resolve relics at the target: entries fenced by an earlier epoch (left there by the forward leg
 * of an aborted migration). The source is fenced for each key first, so no lagging router can
 * change it afterwards; then the source's entry, if it has data, replaces the relic, else the
 * relic's own data is the latest and is lifted (unfenced), and a relic placeholder is dropped.
 * A lifted relic is gone from the relic query, so this pass restarts from scratch on resume.
 */
async function liftRelics(run: MigrationRun, j: MigrationJournal, m: MoveProgress, source: ShardStore, target: ShardStore): Promise<void> {
  const range = rangeOf(m);
  const { batch } = run.s;
  let after: RangeCursor | null = null;
  for (;;) {
    await run.checkpoint(j, false);
    const relics = await target.scanRange(range, after, batch, { _moved: { $lt: j.epoch } });
    if (relics.length === 0) return;
    j.counters.docsRead += relics.length;
    // A relic whose data is the latest (none reached the source) is deleted below before it is
    // re-inserted unfenced; meanwhile readers fall back to the source, which must hold that data
    // (fenced), or they would read no document and a kill in between would lose it.
    const latest = relics.filter((r) => r._ph !== true).map((r) => ({ ...stripFence(r), _moved: j.epoch }));
    if (latest.length > 0) await source.insertIfAbsent(latest);
    const fenced = await source.fence(
      relics.map((r) => ({ id: r._id, h: r._h })),
      j.epoch,
    );
    j.counters.docsRead += fenced.length;
    const bySource = new Map(fenced.map((d) => [idKey(d._id), d] as const));
    const replace: StoredDocument[] = [];
    for (const relic of relics) {
      const src = bySource.get(idKey(relic._id));
      if (src !== undefined && src._ph !== true) replace.push(stripFence(src));
      else if (relic._ph !== true) replace.push(stripFence(relic));
      // A placeholder relic with nothing at the source stands for no document: deleting it is all.
    }
    await run.lock.ensure();
    const ids = relics.map((r) => r._id);
    await target.deleteRange(range, { _id: { $in: ids }, _moved: { $lt: j.epoch } }, ids.length);
    if (replace.length > 0) j.counters.docsInserted += await target.insertIfAbsent(replace);
    j.counters.relicsLifted += relics.length;
    const last = relics[relics.length - 1]!;
    after = cursorOf(last);
    if (relics.length < batch) return;
  }
}

/**
 * Verify one move: every source entry fenced by this leg that holds data (a document or a
 * tombstone) has a current entry at the target, no unfenced entry is left at the source and no
 * stale fence with data at the target. When nobody wrote to the range during the migration, the
 * server-side checksums of `(_id, _v)` agree and no key is read at all; otherwise the fenced
 * `_id`s are listed without bodies and looked up at the target. A missing one (the copier or a
 * router was killed between fence and copy) is carried over and checked again; only what is still
 * missing counts as a mismatch, and any mismatch fails with `shardkit.migration.verifyFailed`.
 */
export const verifyMove: MoveWork = async (run, j, i) => {
  const m = j.moves[i]!;
  if (m.verifyDone) return;
  await run.checkpoint(j, true);
  const source = await run.s.pool.store(m.from);
  const target = await run.s.pool.store(m.to);
  const range = rangeOf(m);
  const fencedFilter: StoreFilter = { _moved: j.epoch, _ph: { $exists: false } };
  const [fromSum, toSum] = await Promise.all([
    source.checksumRange(range, fencedFilter),
    target.checksumRange(range, { _moved: { $exists: false } }),
  ]);
  let checked = fromSum.count;
  let repaired = 0;
  let mismatches = 0;
  if (fromSum.count !== toSum.count || fromSum.checksum !== toSum.checksum) {
    const result = await repairMissing(run, j, m);
    checked = result.checked;
    repaired = result.repaired;
    mismatches += result.stillMissing;
    const fencedCount = await source.countRange(range, fencedFilter);
    mismatches += Math.abs(fencedCount - checked);
  }
  const unfenced = await source.countRange(range, { _moved: { $exists: false } });
  const dataRelics = await target.countRange(range, { _moved: { $lt: j.epoch }, _ph: { $exists: false } });
  mismatches += unfenced + dataRelics;
  run.emit({ type: 'verified', migrationId: j.id, move: i, checked, repaired, mismatches });
  if (mismatches > 0) {
    await run.save(j);
    throw new ShardkitConflictError(
      ErrorCode.verifyFailed,
      `verify failed for move ${i} (${m.from} -> ${m.to}, (${m.start}, ${m.end}]): ${mismatches} mismatch(es) among ` +
        `${checked} fenced entries, ${unfenced} unfenced left at the source, ${dataRelics} stale fences with data at the target`,
      { shardId: m.to },
    );
  }
  m.verifyDone = true;
  await run.save(j);
};

/**
 * List the `_id`s of the source entries this leg fenced that hold data, find those the target lacks,
 * and carry them over. Always safe: a fenced entry is final at the source and insert-if-absent lets
 * whatever the target holds win.
 */
export async function repairMissing(
  run: MigrationRun,
  j: MigrationJournal,
  m: MoveProgress,
): Promise<{ checked: number; repaired: number; stillMissing: number }> {
  const source = await run.s.pool.store(m.from);
  const target = await run.s.pool.store(m.to);
  let checked = 0;
  let repaired = 0;
  let stillMissing = 0;
  for await (const ids of keyPages(source, m, { _moved: j.epoch, _ph: { $exists: false } }, run.s.batch)) {
    await run.checkpoint(j, false);
    checked += ids.length;
    j.counters.keysRead += ids.length;
    const missing = await missingAt(j, target, ids);
    if (missing.length === 0) continue;
    const bodies = await source.find({ _id: { $in: missing }, _moved: j.epoch, _ph: { $exists: false } }, { exactTypes: true });
    j.counters.docsRead += bodies.length;
    await install(run, j, rangeOf(m), target, bodies);
    repaired += bodies.length;
    j.counters.repaired += bodies.length;
    stillMissing += (await missingAt(j, target, missing)).length;
  }
  return { checked, repaired, stillMissing };
}

async function missingAt(j: MigrationJournal, target: ShardStore, ids: readonly unknown[]): Promise<unknown[]> {
  const present = await target.find({ _id: { $in: ids }, _moved: { $exists: false } }, { projection: { _id: 1 } });
  j.counters.keysRead += present.length;
  const have = new Set(present.map((d) => idKey(d._id)));
  return ids.filter((id) => !have.has(idKey(id)));
}

/**
 * `_id`s of a range in `(_h, _id)` order, a page at a time, without bodies. Pages continue from
 * the last `_h` inclusively and skip the `_id`s already seen there, since a cursor on `_h` alone
 * would lose ties and `_id` comparisons across BSON types are not portable in a filter.
 */
async function* keyPages(store: ShardStore, m: MoveProgress, filter: StoreFilter, batch: number): AsyncGenerator<unknown[]> {
  let low = m.start;
  let inclusive = false;
  let seen = new Set<string>();
  for (;;) {
    const limit = batch + seen.size;
    const page = await store.find(
      { ...filter, _h: inclusive ? { $gte: low, $lte: m.end } : { $gt: low, $lte: m.end } },
      { sort: { _h: 1, _id: 1 }, limit, projection: { _id: 1, _h: 1 } },
    );
    const fresh = page.filter((d) => !(d._h === low && seen.has(idKey(d._id))));
    if (fresh.length > 0) yield fresh.map((d) => d._id);
    if (page.length < limit) return;
    const lastH = page[page.length - 1]!._h;
    const atLast = page.filter((d) => d._h === lastH).map((d) => idKey(d._id));
    seen = lastH === low && inclusive ? new Set([...seen, ...atLast]) : new Set(atLast);
    low = lastH;
    inclusive = true;
  }
}

/** How cleanup and purge differ within their one delete loop. */
interface MarkerPass {
  readonly done: 'cleanupDone' | 'purgeDone';
  /** The shard whose markers go: the source's fences, or the target's tombstones. */
  readonly at: 'from' | 'to';
  readonly filter: StoreFilter;
}

/** Delete the pass's markers of move `i` in batches, then mark the move done. */
async function deleteMarkers(pass: MarkerPass, run: MigrationRun, j: MigrationJournal, i: number): Promise<void> {
  const m = j.moves[i]!;
  if (m[pass.done]) return;
  const store = await run.s.pool.store(m[pass.at]);
  const { batch } = run.s;
  let deleted = 0;
  for (;;) {
    await run.checkpoint(j, false);
    const n = await store.deleteRange(rangeOf(m), pass.filter, batch);
    deleted += n;
    j.counters.deleted += n;
    run.booked(n);
    if (n < batch) break;
  }
  m[pass.done] = true;
  await run.save(j);
  run.emit({ type: 'cleanup', migrationId: j.id, move: i, deleted });
}

/** Cleanup: delete every fence and placeholder of the move's range at its source. */
export const cleanupMove: MoveWork = (run, j, i) => deleteMarkers({ done: 'cleanupDone', at: 'from', filter: { _moved: { $exists: true } } }, run, j, i);

/**
 * Purge: delete the tombstones of the move's range at its target (left by deletes while migrating
 * and while settling), and the placeholder relics of an aborted forward leg (verify proved no relic
 * with data is left).
 */
export const purgeMove: MoveWork = (run, j, i) =>
  deleteMarkers({ done: 'purgeDone', at: 'to', filter: { $or: [{ _ts: true }, { _ph: true }] } }, run, j, i);

/**
 * Carry fenced entries to the target, insert-if-absent: whatever the target holds already (a
 * newer version a router wrote, a tombstone) wins. On the abort leg the target may hold relics of
 * the forward leg (fenced at an older epoch); those are older than anything at the source, so they
 * are deleted first. Returns the entries with data carried.
 */
async function install(run: MigrationRun, j: MigrationJournal, range: HashRange, target: ShardStore, docs: readonly StoredDocument[]): Promise<number> {
  const entries = docs.filter((d) => d._ph !== true).map(stripFence);
  if (entries.length === 0) return 0;
  await run.lock.ensure();
  if (j.reverse) {
    const ids = entries.map((d) => d._id);
    await target.deleteRange(range, { _id: { $in: ids }, _moved: { $lt: j.epoch } }, ids.length);
  }
  j.counters.docsInserted += await target.insertIfAbsent(entries);
  return entries.length;
}
