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
import { ShardkitInvalidArgumentError } from '../errors.js';
import { compareBson, sortComparator, sortKey as sharedSortKey } from '../stores/bson-order.js';
import type { SortSpec } from '../stores/bson-order.js';
import type { Document, Sort } from 'mongodb';

export { compareStrings } from '../stores/bson-order.js';

/** One sort key: a dotted path and a direction. */
export type SortField = SortSpec;

/** Compare two BSON values in MongoDB's order; negative, zero or positive (the stores' comparator). */
export const compareValues: (a: unknown, b: unknown) => number = compareBson;

/**
 * The value a document sorts by on `field`: the smallest (ascending) or largest (descending) value
 * the path reaches; `undefined` (as null) when it reaches none.
 */
export function sortKey(doc: Document, field: SortField, segments = field.path.split('.')): unknown {
  return sharedSortKey(doc, field, segments);
}

function direction(raw: unknown, path: string): 1 | -1 {
  if (raw === 1 || raw === 'asc' || raw === 'ascending') return 1;
  if (raw === -1 || raw === 'desc' || raw === 'descending') return -1;
  throw new ShardkitInvalidArgumentError(
    `sort on '${path}': direction must be 1, -1, 'asc' or 'desc' ($meta sorts are not supported across shards)`,
  );
}

/**
 * Normalize the driver's `Sort` forms (`{a: 1}`, `[['a', 1]]`, `['a', 1]`, `'a'`, a `Map`) to a list
 * of fields. `null`/`undefined` yields an empty list.
 */
export function normalizeSort(sort: Sort | undefined | null): SortField[] {
  if (sort === undefined || sort === null) return [];
  const out: SortField[] = [];
  const push = (path: unknown, dir: unknown): void => {
    if (typeof path !== 'string' || path.length === 0) {
      throw new ShardkitInvalidArgumentError(`sort field names must be non-empty strings, got ${typeof path}`);
    }
    if (out.some((f) => f.path === path)) return;
    out.push({ path, dir: direction(dir, path) });
  };
  if (typeof sort === 'string') {
    push(sort, 1);
  } else if (sort instanceof Map) {
    for (const [k, v] of sort) push(k, v);
  } else if (Array.isArray(sort)) {
    if (sort.length === 2 && typeof sort[0] === 'string' && !Array.isArray(sort[1]) && typeof sort[1] !== 'string') {
      push(sort[0], sort[1]);
    } else if (sort.length === 2 && typeof sort[0] === 'string' && typeof sort[1] === 'string' && /^(asc|desc|ascending|descending)$/.test(sort[1])) {
      push(sort[0], sort[1]);
    } else {
      for (const item of sort as unknown[]) {
        if (typeof item === 'string') push(item, 1);
        else if (Array.isArray(item)) push(item[0], item[1]);
        else throw new ShardkitInvalidArgumentError('sort: unsupported array form');
      }
    }
  } else if (typeof sort === 'object') {
    for (const [k, v] of Object.entries(sort as Record<string, unknown>)) push(k, v);
  } else {
    throw new ShardkitInvalidArgumentError(`sort: unsupported value of type ${typeof sort}`);
  }
  return out;
}

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
