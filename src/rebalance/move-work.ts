/**
 * The work of each phase on one source/target pair (ADR 0002, ADR 0003): the fence-and-carry pass
 * shared by copy and sweep, the relic lifting that ends a sweep, and the marker deletion shared by
 * cleanup and purge (verify is in `verify-work.ts`). Each lists all the pair's ranges in one query
 * per page and works by `_id`; each step checkpoints the journal so a resume repeats at most the
 * batch in flight.
 */
import { sleep } from '../clock.js';
import { idKey } from '../stores/bson-order.js';
import type { HashRange, RangeCursor, RangeKey, RangeSpan, ShardStore, StoreFilter, StoredDocument } from '../stores/shard-store.js';
import type { MigrationJournal, MoveProgress } from './journal.js';
import type { MigrationRun } from './run.js';
import { AdaptiveThrottle, MARKER_DELETE_COST } from './throttle.js';

function stripFence(doc: StoredDocument): StoredDocument {
  const { _moved: _ignored, ...rest } = doc;
  return rest;
}

function cursorOf(doc: RangeKey): RangeCursor {
  return { h: doc._h, id: doc._id };
}

export function rangeOf(m: MoveProgress): HashRange {
  return { start: m.start, end: m.end };
}

/** How copy and sweep differ within their one fence-and-carry loop. */
interface CarryPass {
  readonly cursor: 'cursor' | 'sweepCursor';
  readonly done: 'copyDone' | 'sweepDone';
  /** The sweep counts what it carries as swept: late writes the copy could not have seen. */
  readonly countSwept: boolean;
  /** Report progress after each batch, and feed an adaptive throttle with probes of the pair's shards. */
  readonly progress: boolean;
  /** Which source entries the pass lists, at the leg's fence epoch. */
  readonly listed: (epoch: number) => StoreFilter;
}

/**
 * What the copy lists: unfenced entries, and entries with data fenced at this leg's epoch (after the
 * cursor, these are fenced but maybe not carried: a batch whose insert failed is listed again and
 * carried by the copy itself instead of waiting for verify).
 */
function copyListing(epoch: number): StoreFilter {
  return { $or: [{ _moved: { $exists: false } }, { _moved: epoch, _ph: { $exists: false } }] };
}

/** What the sweep lists: only what late writers left unfenced (the copy carried everything fenced). */
function sweepListing(): StoreFilter {
  return { _moved: { $exists: false } };
}

/**
 * An `_id` no application stores: the probes are an indexed point read that finds nothing and an
 * update that matches nothing. Not U+0000: FerretDB on PostgreSQL cannot compare a string holding it,
 * so every probe failed there (ADR 0005).
 */
export const PROBE_ID = '\u{10FFFF}shardkit-probe';
/**
 * Pause between two probe rounds. A round times a read and a write at each of the pair's two shards:
 * 4 samples, so a window of 8 fills in two rounds, about every 100 ms, at 40 calls a second per shard
 * however many pairs share it (`lastProbed`).
 */
const PROBE_MS = 50;

/**
 * What an application's point read and point write cost on a shard now. Both are asked: a server may
 * make writes wait where reads do not. On FerretDB (SQLite) the copy's batch writes hold the shard's
 * write lock: behind fences of 500 documents an update that matched nothing waited 451 ms at the
 * median against 1.3 ms idle, a read 3.0 ms against 2.1 ms. Probed by reads alone, the throttle let
 * the copy's batches grow while the application's writes to the moving keys reached 8x their p99.
 */
const PROBES: ReadonlyArray<(store: ShardStore) => Promise<unknown>> = [
  (store) => store.get(PROBE_ID),
  (store) => store.updateOne({ _id: PROBE_ID }, { $set: { probe: 1 } }),
];

/**
 * When each shard of a run was last probed. Pairs that share a shard (every pair into an added one)
 * take turns at it: a round skips a shard another pair probed less than `PROBE_MS` ago, so the
 * throttle sees each shard once a round however many pairs copy to or from it.
 */
const lastProbed = new WeakMap<MigrationRun, Map<string, number>>();

/**
 * Time the {@link PROBES} on `stores` into an adaptive throttle: until its baseline is taken when
 * `calibrate` (before any copy), else until `done()`.
 */
async function probe(run: MigrationRun, stores: readonly ShardStore[], calibrate: boolean, done: () => boolean): Promise<void> {
  const { throttle, clock } = run.s;
  if (!(throttle instanceof AdaptiveThrottle)) return;
  let probed = lastProbed.get(run);
  if (probed === undefined) lastProbed.set(run, (probed = new Map()));
  while (calibrate ? throttle.calibrating : !done()) {
    for (const store of stores) {
      // Claimed before the first await, so two pairs never probe one shard in the same turn.
      if (clock.now() - (probed.get(store.shardId) ?? Number.NEGATIVE_INFINITY) < PROBE_MS) continue;
      probed.set(store.shardId, clock.now());
      for (const ask of PROBES) {
        const t0 = clock.now();
        try {
          await ask(store);
        } catch {
          // The copy's own calls report the failure. The probe still counts what it waited: an
          // application's call waited as long, and a probe that always fails must not hold the
          // calibration (and so the copy) forever.
        }
        throttle.observe(clock.now() - t0);
      }
    }
    await sleep(clock, PROBE_MS);
  }
}

/**
 * Run `work` while an adaptive throttle probes `stores` (its baseline first, if not taken yet), so the
 * pace of the work follows their latency; the probes stop when the work ends or `stopped()` turns true.
 */
async function whileProbing<T>(run: MigrationRun, stores: readonly ShardStore[], stopped: () => boolean, work: () => Promise<T>): Promise<T> {
  let finished = false;
  await probe(run, stores, true, () => true);
  const probing = probe(run, stores, false, () => finished || stopped());
  try {
    return await work();
  } finally {
    finished = true;
    await probing;
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

/** Index of the move of `moves` (disjoint) holding point `h`, or -1. */
export function moveAt(moves: readonly MoveProgress[], h: number): number {
  return moves.findIndex((m) => inMove(m, h));
}

/**
 * The spans still to list after a page of `keys` (in `(_h, _id)` order, `limit` asked): a short page
 * ends every span; otherwise a span wholly before the page's last key is exhausted, the span holding
 * it resumes after it, later spans keep their cursor.
 */
export function nextSpans(spans: readonly RangeSpan[], keys: readonly RangeKey[], limit: number): RangeSpan[] {
  const last = keys[keys.length - 1];
  if (last === undefined || keys.length < limit) return [];
  return spans
    .filter((s) => s.range.end >= last._h)
    .map((s) => ({ range: s.range, after: s.range.start < last._h && last._h <= s.range.end ? cursorOf(last) : s.after }));
}

/** {@link nextSpans} of the pair's open moves, each with the move it belongs to. */
function spansAfter(pass: CarryPass, open: readonly MoveProgress[], keys: readonly RangeKey[], limit: number): Array<{ m: MoveProgress; span: RangeSpan }> {
  const byStart = new Map(open.map((m) => [m.start, m] as const));
  return nextSpans(
    open.map((m) => ({ range: rangeOf(m), after: m[pass.cursor] })),
    keys,
    limit,
  ).map((span) => ({ m: byStart.get(span.range.start)!, span }));
}

/**
 * The keys of the entries matching `filter` in `spans`, a page of up to `page` keys at a time, in
 * `(_h, _id)` order; the next page is listed while the caller works on this one (the listing only
 * reads). Cleanup, purge and verify's repair list their pair's ranges this way; the copy and the sweep
 * page by the cursors they journal instead (`ListedPage`).
 */
export async function* listedPages(store: ShardStore, spans: readonly RangeSpan[], page: number, filter: StoreFilter): AsyncGenerator<RangeKey[]> {
  let open = spans;
  let pending: Promise<RangeKey[]> | null = open.length === 0 ? null : store.spanKeys(open, page, filter);
  while (pending !== null) {
    const keys = await pending;
    open = nextSpans(open, keys, page);
    pending = open.length === 0 ? null : store.spanKeys(open, page, filter);
    // Awaited at the next page; until then (or when the caller stops early) a failure must not count as unhandled.
    pending?.catch(() => undefined);
    if (keys.length > 0) yield keys;
  }
}

/** The spans of `moves` from their starts. */
export function spansOf(moves: readonly MoveProgress[]): RangeSpan[] {
  return moves.map((m) => ({ range: rangeOf(m), after: null }));
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
  if (pass.progress) run.names(j);
  // The sweep's carry is paced like the copy's, so it keeps the throttle watching the pair's shards too.
  await whileProbing(run, [source, target], stopped, () => carryBatches(pass, run, j, idx, open, source, target, stopped));
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
  const { throttle, batch } = run.s;
  let open = openAtStart;
  let page = new ListedPage(source, pass.listed(j.epoch), Math.max(batch, LISTING_PAGE));
  // When this pair's last batch fits the pace: the pair waits for its own work, not the other pairs'.
  let due: number | null | undefined;
  while (open.length > 0 && !stopped()) {
    await run.checkpoint(j, true, due);
    // Fence nothing while the target does not answer: what is fenced and not carried stays
    // unwritable for the application until it is (ADR 0002). Asked while a page is listed.
    if (page.consumed) {
      const ping = target.ping().then(() => null, (error: unknown) => ({ error }));
      page = await page.next(open.map((m) => ({ range: rangeOf(m), after: m[pass.cursor] })));
      const failed = await ping;
      // An empty page fences nothing, so the target's answer does not matter to it.
      if (failed !== null && page.keys.length > 0) throw failed.error;
      j.counters.keysListed += page.keys.length;
    } else await target.ping();
    // An adaptive throttle warms up with small batches and grows them while the shards keep up; the
    // page is listed at the full batch size all the same, so small batches cost no extra listing.
    const keys = page.take(throttle.batchSize(batch));
    const next = page.exhausted ? [] : spansAfter(pass, open, keys, keys.length);
    const docs = await source.fenceIds(keys.map((k) => k._id), j.epoch);
    j.counters.docsRead += docs.length;
    const carried = await install(run, j, target, docs);
    j.counters.docsMoved += carried;
    if (pass.countSwept) j.counters.swept += carried;
    let copied = 0;
    for (const d of docs) {
      const m = d._ph === true ? undefined : moves.find((x) => inMove(x, d._h));
      if (m === undefined) continue;
      m.copied++;
      copied++;
    }
    // Counted for the run's rate as the moves count them, in the same tick: pairs run concurrently on
    // one journal, and a count taken after the save lagged the others' (a line read 640 documents at
    // 21 docs/s where 520 had been counted for the rate).
    run.copied(copied);
    const still = new Set(next.map((n) => n.m));
    for (const m of open) {
      const cursor = next.find((n) => n.m === m)?.span.after;
      if (cursor !== undefined) m[pass.cursor] = cursor;
      if (still.has(m)) continue;
      m[pass.done] = true;
    }
    open = open.filter((m) => still.has(m));
    await run.save(j);
    due = run.booked(keys.length);
    if (pass.progress) run.progress(j, idx[Math.max(0, moves.findIndex((m) => m.end >= (keys[keys.length - 1]?._h ?? 0)))]!);
  }
}

/**
 * Keys per page of the carry's listing: batches are taken from a page, so a page can hold many. On a
 * server that cannot use the `(_h, _id)` index for a range (FerretDB) every page is a pass over the
 * whole source, whatever its size: a pair moving 6,000 keys out of 30,000 documents made 12 such
 * passes with pages of one 500-key batch, one with this. Keys only (`_id`, `_h`): about a megabyte
 * per page. On MongoDB a page is one index range scan either way.
 */
export const LISTING_PAGE = 10_000;

/**
 * A page of listed keys the carry loop takes batches from, and the listing of the page after it,
 * started as soon as this one is in hand (the listing only reads, so it runs while this page is
 * fenced and carried).
 */
class ListedPage {
  readonly keys: readonly RangeKey[];
  readonly #source: ShardStore;
  readonly #filter: StoreFilter;
  readonly #limit: number;
  readonly #after: Promise<RangeKey[]> | null;
  #at = 0;

  constructor(source: ShardStore, filter: StoreFilter, limit: number, keys: readonly RangeKey[] = [], spans: readonly RangeSpan[] = []) {
    this.#source = source;
    this.#filter = filter;
    this.#limit = limit;
    this.keys = keys;
    const after = nextSpans(spans, keys, limit);
    this.#after = after.length === 0 ? null : source.spanKeys(after, limit, filter);
    // Awaited by the next page; until then a failure must not count as unhandled.
    this.#after?.catch(() => undefined);
  }

  /** True once every key of the page was taken. */
  get consumed(): boolean {
    return this.#at >= this.keys.length;
  }

  /** True once every key was taken and no page follows: the spans are exhausted. */
  get exhausted(): boolean {
    return this.consumed && this.#after === null;
  }

  /** The next `n` keys of the page. */
  take(n: number): RangeKey[] {
    const keys = this.keys.slice(this.#at, this.#at + n);
    this.#at += keys.length;
    return keys;
  }

  /** The page after this one: listed ahead when this one was full, else from `spans` (the open moves' cursors). */
  async next(spans: readonly RangeSpan[]): Promise<ListedPage> {
    const keys = await (this.#after ?? this.#source.spanKeys(spans, this.#limit, this.#filter));
    return new ListedPage(this.#source, this.#filter, this.#limit, keys, spans);
  }
}

/** Copy: fence + carry the pair's ranges, from their cursors on. */
export const copyPair: PairWork = (run, j, idx, stopped) => carry({ cursor: 'cursor', done: 'copyDone', countSwept: false, progress: true, listed: copyListing }, run, j, idx, stopped);

/**
 * Sweep: lift the relics at the target, then carry what late writers left unfenced. Relics are left
 * only by an aborted leg, so one listing of all the pair's ranges at the target first tells whether
 * any are there at all; none can appear after that look: the sweep runs after the routers' lease on
 * the states before this leg's publish, and only those fence at an older epoch. Lifting them first or
 * after the carry comes to the same: each step fences the key at the source before it writes the
 * target, the carry takes only keys unfenced at the source, and the lifting installs the source's
 * entry whenever it has one. A move is marked swept only once both are done, so a resume lifts again
 * whatever a kill left.
 */
export const sweepPair: PairWork = async (run, j, idx, stopped) => {
  const open = idx.map((i) => j.moves[i]!).filter((m) => !m.sweepDone);
  const first = open[0];
  if (first === undefined) return;
  const [source, target] = await Promise.all([run.s.pool.store(first.from), run.s.pool.store(first.to)]);
  await liftRelics(run, j, spansOf(open), source, target);
  await carry({ cursor: 'sweepCursor', done: 'sweepDone', countSwept: true, progress: false, listed: sweepListing }, run, j, idx, stopped);
};

/** Entries fenced by an earlier epoch than the leg's: relics of an aborted leg. */
function relicFilter(epoch: number): StoreFilter {
  return { _moved: { $lt: epoch } };
}

/**
 * Resolve relics at the target in `spans` (a pair's ranges): entries fenced by an earlier epoch (left
 * there by the forward leg of an aborted migration). Their keys come from one listing of all the
 * ranges per page (on FerretDB a pass over the target a batch at a time: a query per range and page
 * sorted the whole target each time, 132 of them for a 2,000-document sweep, and timed out on a
 * large shard), their bodies by `_id`. The source is fenced for each key first, so no lagging router
 * can change it afterwards; then the source's entry, if it has data, replaces the relic, else the
 * relic's own data is the latest and is lifted (unfenced), and a relic placeholder is dropped. A
 * lifted relic is gone from the relic listing, so a resume lists from scratch.
 */
async function liftRelics(run: MigrationRun, j: MigrationJournal, spans: readonly RangeSpan[], source: ShardStore, target: ShardStore): Promise<void> {
  const { batch } = run.s;
  const filter = relicFilter(j.epoch);
  for (let open = spans; open.length > 0; ) {
    await run.checkpoint(j, false);
    const keys = await target.spanKeys(open, batch, filter);
    j.counters.keysRead += keys.length;
    open = nextSpans(open, keys, batch);
    if (keys.length === 0) return;
    // A relic is fenced, so final, unless a router took it back since it was listed (it is then gone
    // from this read, and from the relics).
    const relics = await target.find({ _id: { $in: keys.map((k) => k._id) }, ...filter }, { exactTypes: true });
    if (relics.length === 0) continue;
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
    await target.deleteIds(relics.map((r) => r._id), filter);
    if (replace.length > 0) j.counters.docsInserted += await target.insertIfAbsent(replace);
    j.counters.relicsLifted += relics.length;
  }
}

/** `items` in consecutive slices of at most `size` (`items` itself when it fits in one). */
export function batchesOf<T>(items: readonly T[], size: number): Array<readonly T[]> {
  if (items.length <= size) return [items];
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += size) out.push(items.slice(at, at + size));
  return out;
}

/** How cleanup and purge differ within their one delete loop. */
interface MarkerPass {
  readonly done: 'cleanupDone' | 'purgeDone';
  /** The shard whose markers go: the source's fences, or the target's tombstones. */
  readonly at: 'from' | 'to';
  readonly filter: StoreFilter;
}

/**
 * Delete the pass's markers of the pair's moves: their keys are listed for all the pair's ranges in
 * one query per page of up to `LISTING_PAGE` keys (the next page is listed while this one is deleted),
 * then deleted by `_id` a batch at a time with the pass's filter again, so an entry that changed since
 * it was listed stays. Nothing is journaled per batch: a resume lists again from the start, where only
 * the markers left remain.
 */
async function deleteMarkers(pass: MarkerPass, run: MigrationRun, j: MigrationJournal, idx: readonly number[], stopped: () => boolean): Promise<void> {
  const open = idx.filter((i) => !j.moves[i]![pass.done]);
  if (open.length === 0) return;
  const moves = open.map((i) => j.moves[i]!);
  const store = await run.s.pool.store(moves[0]![pass.at]);
  const { batch } = run.s;
  const deleted = moves.map(() => 0);
  let due: number | null | undefined;
  // The deletes are paced like the copy, so an adaptive throttle keeps watching the shard they write:
  // without probes it held them at the pace the copy ended at, however idle the shard was by then
  // (a walkthrough's cleanup of 2,911 markers took 37 s at a pace set during the copy).
  const completed = await whileProbing(run, [store], stopped, async () => {
    for await (const keys of listedPages(store, spansOf(moves), Math.max(batch, LISTING_PAGE), pass.filter)) {
      if (keys.length > 0) run.emit({ type: 'markersListed', migrationId: j.id, phase: j.phase, listed: keys.length });
      for (let at = 0; at < keys.length; ) {
        if (stopped()) return false;
        await run.checkpoint(j, false, due);
        // Batches of the throttle's size, as the copy's: a whole batch booked at a pace the probes
        // lowered meanwhile made the next checkpoint wait for it (25 s for 500 markers at 20 docs/s).
        // A marker costs a quarter of a copied document (MARKER_DELETE_COST), so a batch holds four times as many.
        const part = keys.slice(at, at + run.s.throttle.batchSize(batch, MARKER_DELETE_COST));
        at += part.length;
        const n = await store.deleteIds(part.map((k) => k._id), pass.filter);
        for (const k of part) deleted[moveAt(moves, k._h)]! += 1;
        j.counters.deleted += n;
        due = run.booked(n, MARKER_DELETE_COST);
        run.emit({ type: 'markersDeleted', migrationId: j.id, phase: j.phase, deleted: n });
      }
    }
    return true;
  });
  if (!completed) return;
  for (const m of moves) m[pass.done] = true;
  await run.save(j);
  open.forEach((i, k) => run.emit({ type: 'cleanup', migrationId: j.id, move: i, deleted: deleted[k]! }));
}

/** Cleanup: delete every fence and placeholder of the pair's ranges at its source. */
export const cleanupPair: PairWork = (run, j, idx, stopped) =>
  deleteMarkers({ done: 'cleanupDone', at: 'from', filter: { _moved: { $exists: true } } }, run, j, idx, stopped);

/**
 * Purge: delete the tombstones of the pair's ranges at its target (left by deletes while migrating
 * and while settling), and the placeholder relics of an aborted forward leg (verify proved no relic
 * with data is left).
 */
export const purgePair: PairWork = (run, j, idx, stopped) =>
  deleteMarkers({ done: 'purgeDone', at: 'to', filter: { $or: [{ _ts: true }, { _ph: true }] } }, run, j, idx, stopped);

/**
 * Carry fenced entries to the target, insert-if-absent: whatever the target holds already (a
 * newer version a router wrote, a tombstone) wins. On the abort leg the target may hold relics of
 * the forward leg (fenced at an older epoch); those are older than anything at the source, so they
 * are deleted first. Returns the entries with data carried.
 */
export async function install(run: MigrationRun, j: MigrationJournal, target: ShardStore, docs: readonly StoredDocument[]): Promise<number> {
  const entries = docs.filter((d) => d._ph !== true).map(stripFence);
  if (entries.length === 0) return 0;
  await run.lock.ensure();
  if (j.reverse) await target.deleteIds(entries.map((d) => d._id), relicFilter(j.epoch));
  j.counters.docsInserted += await target.insertIfAbsent(entries);
  return entries.length;
}
