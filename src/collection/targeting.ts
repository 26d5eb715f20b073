/**
 * Query targeting (ADR 0008): the one function that maps a filter to the shards a query must reach.
 * A filter that pins the shard key to a set of values (`$eq` or a literal, `$in`, an `$or` whose every
 * branch pins it, an `$and` with a branch that pins it) reaches the owners of those values (while a
 * range moves, their old owners too, where the migration protocol may still hold them); anything else
 * reaches every shard that may hold a document. Reaching a superset of the owning shards is always
 * correct, so whatever this cannot prove scatters.
 */
import type { Document, Filter } from 'mongodb';
import { assertShardKey } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import { isOperatorObject } from '../stores/store-filters.js';
import { DEFAULT_SHARD_KEY } from '../topology/shard-key.js';
import type { RoutingView } from './routing-view.js';

/** Where one operation goes and why, as `ShardedCollection.explain` reports it. */
export interface Target {
  /** True when the filter pins the shard key, so only the owners of its values are asked. */
  readonly targeted: boolean;
  /** The field path that routes documents. */
  readonly shardKey: string;
  /** The shards asked, sorted. */
  readonly shards: readonly string[];
  /** The shard-key values the filter pins (absent when it scatters). */
  readonly values?: readonly ShardKey[];
  /** One line: which form of the filter pinned the key, or why the query scatters. */
  readonly reason: string;
}

/** The pinned values of one filter, and the form that pinned them (for `reason`). */
interface Pinned {
  readonly values: ShardKey[];
  readonly how: string;
}

function asKey(value: unknown): ShardKey | undefined {
  try {
    assertShardKey(value);
    return value;
  } catch {
    // Not a value any stored document can route by (a regex, a document, null): no pin.
    return undefined;
  }
}

function allKeys(values: readonly unknown[]): ShardKey[] | undefined {
  const out: ShardKey[] = [];
  for (const v of values) {
    const key = asKey(v);
    if (key === undefined) return undefined;
    out.push(key);
  }
  return out;
}

/** The values a condition on the shard-key field itself pins (`k`, `{$eq: k}`, `{$in: [...]}`, both). */
function pinnedByCondition(condition: unknown): Pinned | undefined {
  if (!isOperatorObject(condition)) {
    const key = asKey(condition);
    return key === undefined ? undefined : { values: [key], how: 'equality' };
  }
  // Other operators beside `$eq`/`$in` only narrow the match further: the pinned values still bound it.
  if ('$eq' in condition) {
    const key = asKey(condition['$eq']);
    return key === undefined ? undefined : { values: [key], how: '$eq' };
  }
  const list = condition['$in'];
  if (Array.isArray(list)) {
    const keys = allKeys(list);
    return keys === undefined ? undefined : { values: keys, how: `$in of ${String(keys.length)}` };
  }
  return undefined;
}

function smaller(a: Pinned | undefined, b: Pinned | undefined): Pinned | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.values.length < a.values.length ? b : a;
}

/**
 * The shard-key values `filter` pins at `path`, or undefined when a document with another value could
 * match. Top-level fields and `$and` branches are conjunctions (any one pin bounds the match: the
 * smallest is kept); an `$or` pins only when every branch does (the union of theirs). `$nor`, `$not`
 * and `$expr` pin nothing.
 */
function pinnedBy(filter: Readonly<Document>, path: string): Pinned | undefined {
  let best: Pinned | undefined;
  if (Object.hasOwn(filter, path)) best = pinnedByCondition(filter[path]);
  const and: unknown = filter['$and'];
  if (Array.isArray(and)) {
    for (const branch of and) {
      if (branch !== null && typeof branch === 'object') best = smaller(best, pinnedBy(branch as Document, path));
    }
  }
  const or: unknown = filter['$or'];
  if (Array.isArray(or) && or.length > 0) {
    const union: ShardKey[] = [];
    let every = true;
    for (const branch of or) {
      const pinned = branch !== null && typeof branch === 'object' ? pinnedBy(branch as Document, path) : undefined;
      if (pinned === undefined) {
        every = false;
        break;
      }
      union.push(...pinned.values);
    }
    if (every) best = smaller(best, { values: union, how: `$or of ${String(or.length)} pinning branches` });
  }
  return best;
}

/** The shard-key values `filter` pins at `path` (duplicates kept), or undefined when it does not pin them. */
export function pinnedValues(filter: Filter<Document> | undefined, path: string): readonly ShardKey[] | undefined {
  if (filter === undefined || filter === null || typeof filter !== 'object') return undefined;
  return pinnedBy(filter as Document, path)?.values;
}

/** The one shard-key value `filter` pins (every matching document has it), or undefined. */
export function pinnedValue(filter: Filter<Document> | undefined, path: string): ShardKey | undefined {
  const values = pinnedValues(filter, path);
  if (values === undefined || values.length === 0) return undefined;
  const [first] = values;
  const key = first as ShardKey;
  // `42` and `"42"` hash alike but match different documents: one value means one value, not one point.
  return values.every((v) => v === key || (typeof v === typeof key && String(v) === String(key))) ? key : undefined;
}

/** Whether `filter` pins the shard key of `view` (what {@link targetFilter} calls targeted), without listing the shards. */
export function pinsShardKey(view: RoutingView, filter: Filter<Document> | undefined): boolean {
  return filter !== undefined && filter !== null && typeof filter === 'object' && pinnedBy(filter as Document, view.shardKey) !== undefined;
}

/**
 * The shards a query with `filter` must reach under `view`: the owners of the values it pins (and,
 * while migrating, their R1 owners), else every shard that may hold a live document (`view.scatter`).
 */
export function targetFilter(view: RoutingView, filter: Filter<Document> | undefined): Target {
  const path = view.shardKey;
  const pinned = filter === undefined || filter === null || typeof filter !== 'object' ? undefined : pinnedBy(filter as Document, path);
  if (pinned === undefined) {
    return { targeted: false, shardKey: path, shards: [...view.scatter].sort(), reason: `the filter does not pin the shard key ${path}: every shard` };
  }
  const shards = new Set<string>();
  for (const value of pinned.values) {
    shards.add(view.to.route(value));
    if (view.from !== undefined) shards.add(view.from.route(value));
  }
  const n = pinned.values.length;
  return {
    targeted: true,
    shardKey: path,
    shards: [...shards].sort(),
    values: pinned.values,
    reason: `the filter pins the shard key ${path} by ${pinned.how} (${String(n)} value${n === 1 ? '' : 's'})${view.from === undefined ? '' : ', with their owners before the migration'}`,
  };
}

/**
 * The shard-key value `filter` pins beside the `_id` it pins (`id`), when it pins both: then the
 * single-key protocol can serve the read. Under shard key `_id` the `_id` is the value; otherwise a
 * filter that pins `_id` alone does not say where the document lives, and the caller scatters.
 */
export function pinnedPair(view: RoutingView, filter: Filter<Document>, id: ShardKey | undefined): ShardKey | undefined {
  if (id === undefined) return undefined;
  return view.shardKey === DEFAULT_SHARD_KEY ? id : pinnedValue(filter, view.shardKey);
}
