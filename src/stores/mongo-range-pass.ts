/**
 * `MongoStore`'s passes over hash ranges: verify's checksums and counts, the counts of a server that
 * scans, the copier's listing of a server that scans (ADR 0003, "Passes over ranges"). A pass reads
 * every entry of its ranges, which on a large shard takes longer than one call may: on FerretDB a pass
 * over 50,000 entries took 2.3 to 2.5 s on the test servers, over the migrator's default `opTimeoutMs`
 * of 2 s, so as one call it could never finish however often the migration was resumed. So a pass is
 * one server cursor read a batch at a time, each batch one call of the store under a deadline of its
 * own, as long as the call was given; a batch the shard does not answer in time still ends it. A pass
 * only reads: nothing it sends could land late.
 */
import { Query } from 'mingo';
import type { Collection, Document } from 'mongodb';
import { systemClock } from '../clock.js';
import { callWithDeadline, currentDeadline, deadlineError, deadlineIn, remainingMs, type Deadline } from './deadline.js';
import { cursorOptions, driverBatches } from './mongo-batches.js';
import type { RequestScope } from './mongo-request-options.js';
import { byStart, hullFilter } from './mongo-span-ops.js';
import type { HashRange, RangeTallies, RangeTallyResult, StoreFilter } from './shard-store.js';
import { andFilters, bucketOf, RangeChecksum, rangeFilter } from './store-filters.js';

/**
 * Entries per batch. Alone, a batch of 2,000 entries of a FerretDB scan took 0.1 to 0.2 s on the test
 * servers, but verify then ran four passes per pair and the pairs at once, eight scans on the new
 * shard: batches of 2,000 outlasted a 1 s `opTimeoutMs`. 500 keep a batch near a tenth of that (verify
 * now runs two passes per pair, at most two at a time per shard).
 */
const PASS_BATCH = 500;

/** The fields a pass reads of each entry: its place, its version, its markers. */
const PASS_FIELDS: Readonly<Record<string, 1>> = Object.freeze({ _id: 1, _h: 1, _v: 1, _moved: 1, _ph: 1, _ts: 1 });

/** The deadline of each call of a pass. */
export interface PassBudget {
  /** A deadline as far off as the call was given when it began. */
  next(): Deadline;
}

/**
 * The time each call of a pass has: what the call was given as it began (the caller's deadline, read
 * here before any `await`, cut to `opTimeoutMs`), again for each call. `shardkit.store.timeout` when
 * the call began past its deadline.
 */
export function passBudget(shardId: string, op: string, opTimeoutMs: number): PassBudget {
  const caller = currentDeadline();
  const ms = caller === undefined ? opTimeoutMs : Math.min(opTimeoutMs, remainingMs(caller));
  if (ms <= 0) throw deadlineError(shardId, op);
  const clock = caller?.clock ?? systemClock;
  return { next: () => deadlineIn(clock, ms) };
}

/**
 * What a pass over `ranges` asks the server (`where`) and what the client keeps of each entry it gets
 * (`keep`; its range is found by `bucketOf`), such that each batch costs the server a bounded amount of
 * work whatever `filter` matches. A server cursor's batch lasts until it has `batchSize` matches: a
 * filter matching little (verify's count of stale fences, which matches nothing when all went well)
 * made one batch scan the whole collection on FerretDB (2.5 s for 50,000 entries), and so did the
 * ranges' hull once the copier's cursors had passed most of it. So a filter on the protocol's fields
 * (`_moved`, `_ph`, `_ts`, `_v`, in `$or`/`$and`/`$nor` branches too: every filter the migrator passes) is tested by the
 * client, on entries read by their ranges alone: through the `(_h, _id)` index where the server uses
 * it (`indexed`), else with no condition at all, one batch then being `PASS_BATCH` entries of the scan
 * (the scan is what such a server does for any range filter). Any other filter goes to the server,
 * with the ranges (their hull where the server scans: an `$or` of 40 ranges cost FerretDB more than
 * the scan).
 */
export function passQuery(ranges: readonly HashRange[], indexed: boolean, filter: StoreFilter | undefined): { where: Document; keep: (d: Document) => boolean } {
  const inRanges = indexed ? { $or: ranges.map((r) => rangeFilter(r, null)) } : {};
  if (filter === undefined) return { where: inRanges, keep: () => true };
  if (onMarkersOnly(filter)) {
    const query = new Query(filter);
    return { where: inRanges, keep: (d) => query.test(d) };
  }
  const where = indexed ? inRanges : hullFilter(ranges.map((range) => ({ range, after: null })));
  return { where: andFilters(where, filter), keep: () => true };
}

/** The protocol's fields a filter tested by the client may name (the pass reads them: `PASS_FIELDS`). */
const MARKER_FIELDS = new Set(['_moved', '_ph', '_ts', '_v']);

/** Whether `filter` names only {@link MARKER_FIELDS}, at its top level or in `$or`, `$and`, `$nor` branches. */
function onMarkersOnly(filter: StoreFilter): boolean {
  return Object.entries(filter).every(([key, value]) => {
    if (key === '$or' || key === '$and' || key === '$nor') {
      return Array.isArray(value) && value.every((branch) => branch !== null && typeof branch === 'object' && onMarkersOnly(branch as StoreFilter));
    }
    return MARKER_FIELDS.has(key);
  });
}

/**
 * One pass over the entries of `col` matching `filter` in `ranges` (sorted or not, disjoint), `visit`
 * getting each (its `PASS_FIELDS`) with the index of its range: each batch is `run` (one call of the
 * store) under a deadline from `budget` (see the file's comment).
 */
export async function rangePass(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  col: Collection<any>,
  run: <T>(fn: (call: RequestScope) => Promise<T>) => Promise<T>,
  budget: PassBudget,
  ranges: readonly HashRange[],
  indexed: boolean,
  filter: StoreFilter | undefined,
  visit: (at: number, d: Document) => void,
): Promise<void> {
  const { where, keep } = passQuery(ranges, indexed, filter);
  const order = byStart(ranges);
  const batches = driverBatches(
    { batchSize: PASS_BATCH, projection: PASS_FIELDS },
    (opts, c: RequestScope) => {
      return col.find(where, { ...cursorOptions(c.internal()), ...opts });
    },
    (batch) => callWithDeadline(budget.next(), () => run(batch)),
  );
  try {
    for (;;) {
      const next = await batches.next();
      if (next.done === true) return;
      for (const d of next.value) {
        const at = bucketOf(order, d['_h'] as number);
        if (at !== undefined && keep(d)) visit(at, d);
      }
    }
  } finally {
    await batches.close();
  }
}

/**
 * The figures of `tallies` over `ranges` (`ShardStore.tallyRanges`). When every filter names only the
 * protocol's fields, one pass reads the ranges' entries and the client tests each filter on each entry;
 * otherwise each filter is its own pass, filtered by the server.
 */
export async function tallyPass(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  col: Collection<any>,
  run: <T>(fn: (call: RequestScope) => Promise<T>) => Promise<T>,
  budget: PassBudget,
  ranges: readonly HashRange[],
  indexed: boolean,
  tallies: RangeTallies,
): Promise<RangeTallyResult> {
  const counts = (tallies.counts ?? []).map(() => ranges.map(() => 0));
  const sums = (tallies.checksums ?? []).map(() => ranges.map(() => new RangeChecksum()));
  const figures: Array<{ filter: StoreFilter; visit: (at: number, d: Document) => void }> = [
    ...(tallies.counts ?? []).map((filter, f) => ({ filter, visit: (at: number) => (counts[f]![at]! += 1) })),
    ...(tallies.checksums ?? []).map((filter, f) => ({ filter, visit: (at: number, d: Document) => sums[f]![at]!.add(d['_id'], d['_v']) })),
  ];
  if (figures.every(({ filter }) => onMarkersOnly(filter))) {
    // An empty filter (a plain count or checksum) takes every entry: no test per entry for it.
    const tested = figures.map(({ filter, visit }) => ({ test: Object.keys(filter).length === 0 ? null : new Query(filter), visit }));
    await rangePass(col, run, budget, ranges, indexed, undefined, (at, d) => {
      for (const { test, visit } of tested) if (test === null || test.test(d)) visit(at, d);
    });
  } else {
    for (const { filter, visit } of figures) await rangePass(col, run, budget, ranges, indexed, filter, visit);
  }
  return { counts, checksums: sums.map((s) => s.map((sum) => sum.result())) };
}
