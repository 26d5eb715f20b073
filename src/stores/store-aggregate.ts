/**
 * What both stores run for `ShardStore.aggregate`: the caller's pipeline behind one guard, so no stage
 * ever sees a migration marker or an internal field. The guard is a `$match` of live documents (no
 * fence, placeholder or tombstone), merged into the pipeline's own leading `$match` (one stage, so a
 * server still uses its indexes for both), then an `$unset` of `_h` and `_v`: a `$project` with
 * exclusions, a `$push` of `$$ROOT` or a `$group` on `$_v` downstream finds nothing of shardkit's.
 */
import type { Document } from 'mongodb';
import { Field } from './shard-store.js';
import { andFilters, LIVE } from './store-filters.js';

/** Fields shardkit keeps on live documents that the application's pipeline must not see. */
const INTERNAL: readonly string[] = [Field.hash, Field.version];

/** `pipeline` behind the guard: live documents only, internal fields removed before the first stage. */
export function guardedPipeline(pipeline: readonly Document[]): Document[] {
  const [first, ...rest] = pipeline;
  const leading = first !== undefined && Object.keys(first).length === 1 && '$match' in first ? (first['$match'] as Document) : undefined;
  const match = leading === undefined ? { ...LIVE } : andFilters(leading, LIVE);
  return [{ $match: match }, { $unset: [...INTERNAL] }, ...(leading === undefined ? pipeline : rest)];
}
