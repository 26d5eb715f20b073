/**
 * How many documents each move of a plan takes, counted at the sources: `plan --config` shows them,
 * the migrator's progress and ETA start from them.
 */
import type { Move } from '../ring/move.js';
import type { StoreFilter } from '../stores/shard-store.js';
import type { StoreProvider } from '../stores/store-provider.js';

/** What {@link countAtSources} found. */
export interface SourceCounts {
  /** Entries matching the filter in each move's range. */
  readonly docs: ReadonlyMap<Move, number>;
  /** The sources that could not count a range by the `(_h, _id)` index (one full pass each), in the moves' order. */
  readonly scanned: readonly string[];
}

/**
 * Count the entries matching `filter` in each move's range: one `countRanges` per source for all its
 * moves (by index where the server can, else one pass over the source), every source at once, as
 * `status` counts its shards. One after another, 4 FerretDB sources of 30,000 documents took 15 s.
 * `onSource` hears each source as its count ends: its moves' number and the entries it counted.
 */
export async function countAtSources(
  moves: readonly Move[],
  pool: Pick<StoreProvider, 'store'>,
  filter: StoreFilter,
  onSource?: (ranges: number, docs: number) => void,
): Promise<SourceCounts> {
  const docs = new Map<Move, number>();
  const sources = [...new Set(moves.map((m) => m.from))];
  const indexed = await Promise.all(
    sources.map(async (source) => {
      const ranges = moves.filter((m) => m.from === source);
      const counted = await (await pool.store(source)).countRanges(ranges, filter);
      ranges.forEach((m, i) => docs.set(m, counted.counts[i] ?? 0));
      onSource?.(ranges.length, counted.counts.reduce((a, b) => a + b, 0));
      return counted.indexed;
    }),
  );
  return { docs, scanned: sources.filter((_, k) => !indexed[k]) };
}
