/**
 * Sorting across shards: the driver's `Sort` forms normalized (and validated) to a list of fields,
 * and the document comparator that merges results gathered from several shards the way one server
 * would have sorted them.
 *
 * Values compare by the single BSON comparator of `stores/bson-order.ts`, the one the stores use to
 * sort each shard's part, so a shard's sort and the collection's merge never disagree. That module
 * documents the order and the sort rules (an array field sorts by its smallest element ascending and
 * its largest descending; an empty array sorts below null).
 */
import { compareBson, sortComparator } from '../stores/bson-order.js';
import type { SortSpec } from '../stores/bson-order.js';
import type { Document } from 'mongodb';

// The driver's sort forms are read in one place, the stores' sort and the merge alike.
export { normalizeSort } from '../stores/bson-order.js';

/** One sort key: a dotted path and a direction. */
export type SortField = SortSpec;

/** Compare two BSON values in MongoDB's order; negative, zero or positive (the stores' comparator). */
export const compareValues: (a: unknown, b: unknown) => number = compareBson;

/** `fields` as a MongoDB sort document, for pushing the sort down to each shard. */
export function sortDocument(fields: readonly SortField[]): Document {
  const doc: Document = {};
  for (const f of fields) doc[f.path] = f.dir;
  return doc;
}

/** A comparator of documents by `fields`, in the server's order (the stores' sort rules). */
export function documentComparator(fields: readonly SortField[]): (a: Document, b: Document) => number {
  return sortComparator(fields);
}
