/**
 * `distinct` as an aggregation: each shard groups its matching documents by the field's value (a
 * `$group` every test server runs correctly), the router merges the groups and then does what the
 * server's `distinct` does with them: an array value counts as each of its elements, values equal
 * under BSON comparison (`1`, `1.0`, `Long(1)`) count once, and the answer is in BSON order.
 */
import type { Document, Filter } from 'mongodb';
import { ShardkitInvalidArgumentError } from '../../errors.js';
import { compareBson, idKey } from '../../stores/bson-order.js';
import { andFilters } from '../../stores/store-filters.js';
import type { Stage } from './split.js';

/** The pipeline whose groups are the distinct values of `key` among documents matching `filter`. */
export function distinctPipeline(key: string, filter: Filter<Document>): Stage[] {
  if (typeof key !== 'string' || key.length === 0 || key.startsWith('$')) {
    throw new ShardkitInvalidArgumentError(`distinct: key must be a field path (got ${String(key)})`);
  }
  if (filter === null || typeof filter !== 'object') throw new ShardkitInvalidArgumentError('distinct: filter must be an object');
  // A document without the field has no value to count; one with `null` counts `null`.
  return [{ $match: andFilters(filter, { [key]: { $exists: true } }) }, { $group: { _id: `$${key}` } }];
}

/** The distinct values among the groups `distinctPipeline` produced, as the server answers them. */
export function distinctValues(groups: readonly Document[]): unknown[] {
  const seen = new Map<string, unknown>();
  for (const group of groups) {
    const value: unknown = group['_id'];
    for (const v of Array.isArray(value) ? (value as unknown[]) : [value]) if (!seen.has(idKey(v))) seen.set(idKey(v), v);
  }
  return [...seen.values()].sort(compareBson);
}
