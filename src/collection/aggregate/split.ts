/**
 * The pipeline splitter: which part of an aggregation every targeted shard runs, how the router merges
 * the shards' answers, and which stages the router then runs over the merged stream. The idea is a
 * sharded cluster's: each stage says whether it can run per shard, and the first one that cannot is
 * split into a shard part and a merge part (a `$group` into partial groups merged by accumulator, a
 * `$sort` into sorted shard streams merged k-way, `$skip`/`$limit` into a pushed-down limit). Pure:
 * no I/O, no routing state; ADR 0009 says why each rule is what it is.
 *
 * What is pushed to the shards is deliberately narrower than what a MongoDB server could run: FerretDB
 * 1.24 (the test servers) answers some stages wrongly without an error (`$addFields: {c: '$a'}` sets
 * the string "$a"; a `$group` computes its first accumulator and answers 0 for the others), so by
 * default only stage forms that behave alike there and on MongoDB are pushed (the `mongodb` profile
 * pushes more), and stages a shard refuses as not implemented make the collection run the pipeline
 * router-side instead (`run.ts`).
 */
import type { Document } from 'mongodb';
import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../../errors.js';
import { normalizeSort, type SortSpec } from '../../stores/bson-order.js';
import { isPlainProjection } from '../documents.js';

/** One pipeline stage: `{ $name: argument }`. */
export type Stage = Readonly<Document>;

/** A `$group` accumulator whose shard partials the router merges. */
export type MergedAccumulator = '$sum' | '$avg' | '$min' | '$max' | '$push' | '$addToSet';

/**
 * What the shards are trusted to run. `portable` (the default): only stage forms FerretDB 1.24 and
 * MongoDB answer alike (see the file's comment). `mongodb`: the shards are MongoDB servers, so computed
 * fields and `$group`s with several accumulators are pushed too.
 */
export type Pushdown = 'portable' | 'mongodb';

/** The pushdown profiles, for argument checks. */
export const PUSHDOWNS: readonly Pushdown[] = ['portable', 'mongodb'];

/** How one output field of a split `$group` is merged from the shards' partial groups. */
export interface GroupField {
  /** The output field. */
  readonly name: string;
  readonly op: MergedAccumulator;
  /** The partial fields it is merged from: one, or a sum and a count of numbers for `$avg`. */
  readonly parts: readonly string[];
}

/** How the router merges the shards' streams. */
export type Merge =
  | { readonly kind: 'concat' }
  | { readonly kind: 'sort'; readonly sort: readonly SortSpec[] }
  | { readonly kind: 'group'; readonly fields: readonly GroupField[] }
  | { readonly kind: 'count'; readonly field: string };

/** A pipeline split for scatter-gather. */
export interface SplitPlan {
  /** Stages every targeted shard runs (after the store's guard, `stores/store-aggregate.ts`). */
  readonly shard: readonly Stage[];
  readonly merge: Merge;
  /** Documents the router skips after the merge. */
  readonly skip: number;
  /** Documents the router keeps after the skip; undefined: all. */
  readonly limit: number | undefined;
  /** Stages the router runs over the merged stream (mingo). */
  readonly router: readonly Stage[];
}

/** Per-document stages: each document in, zero or more out, independent of the others. */
const PER_DOCUMENT: ReadonlySet<string> = new Set(['$match', '$project', '$addFields', '$set', '$unset', '$unwind', '$replaceRoot', '$replaceWith', '$redact']);
/** Stages that see the whole stream and that the router runs (mingo) after the merge. */
const WHOLE_STREAM: ReadonlySet<string> = new Set([
  '$group',
  '$sort',
  '$limit',
  '$skip',
  '$count',
  '$sortByCount',
  '$facet',
  '$setWindowFields',
  '$bucket',
  '$bucketAuto',
  '$sample',
  '$densify',
  '$fill',
]);
/** Stages refused on a sharded collection, with why. */
const REFUSED: ReadonlyMap<string, string> = new Map([
  ['$out', 'it writes to another collection'],
  ['$merge', 'it writes to another collection'],
  ['$lookup', 'it reads another collection, which shardkit does not route'],
  ['$graphLookup', 'it reads another collection, which shardkit does not route'],
  ['$unionWith', 'it reads another collection, which shardkit does not route'],
  ['$geoNear', 'it needs a geospatial index per shard and a merge by distance'],
]);
/** Accumulators whose answer depends on the order of a group's documents. */
const ORDERED: ReadonlySet<string> = new Set(['$first', '$last', '$firstN', '$lastN', '$top', '$bottom', '$topN', '$bottomN', '$mergeObjects']);
/** Accumulators the router can run (mingo) but not merge from partials: the group runs router-side. */
const ROUTER_ACCUMULATORS: ReadonlySet<string> = new Set(['$stdDevPop', '$stdDevSamp', '$maxN', '$minN', '$median', '$percentile']);
const MERGED: ReadonlySet<string> = new Set(['$sum', '$avg', '$min', '$max', '$push', '$addToSet', '$count']);
/** Per-document stages a MongoDB server runs like the router would, pushed under the `mongodb` profile. */
const COMPUTED: ReadonlySet<string> = new Set(['$project', '$addFields', '$set', '$replaceRoot', '$replaceWith', '$redact']);

function unsupportedStage(name: string, why: string): ShardkitInputError {
  return new ShardkitInputError(ErrorCode.aggregateUnsupportedStage, `aggregate: stage ${name} is not supported on a sharded collection: ${why}`);
}

function unsupportedAccumulator(field: string, op: string, why: string): ShardkitInputError {
  return new ShardkitInputError(ErrorCode.aggregateUnsupportedAccumulator, `aggregate: $group field '${field}' uses ${op}, which shardkit cannot merge across shards: ${why}`);
}

/** The name and argument of a stage; refuses anything that is not `{ $name: argument }`. */
export function stageOf(stage: unknown): [string, unknown] {
  if (stage === null || typeof stage !== 'object' || Array.isArray(stage)) throw new ShardkitInvalidArgumentError('aggregate: every stage must be an object');
  const keys = Object.keys(stage);
  const name = keys[0];
  if (keys.length !== 1 || name === undefined || !name.startsWith('$')) {
    throw new ShardkitInvalidArgumentError(`aggregate: a stage must have exactly one field, a $-operator (got ${JSON.stringify(keys)})`);
  }
  return [name, (stage as Document)[name]];
}

/** Refuses a pipeline that is not an array, holds a refused or unknown stage, or (in `$facet`) one nested. */
export function assertPipeline(pipeline: unknown): asserts pipeline is Stage[] {
  if (!Array.isArray(pipeline)) throw new ShardkitInvalidArgumentError('aggregate: pipeline must be an array of stages');
  for (const stage of pipeline) {
    const [name, arg] = stageOf(stage);
    const refused = REFUSED.get(name);
    if (refused !== undefined) throw unsupportedStage(name, refused);
    if (!PER_DOCUMENT.has(name) && !WHOLE_STREAM.has(name)) throw unsupportedStage(name, 'shardkit does not know how to run it over shards');
    if (name === '$facet' && arg !== null && typeof arg === 'object') {
      for (const sub of Object.values(arg as Document)) assertPipeline(sub);
    }
  }
}

function isExpressionLike(value: unknown): boolean {
  if (typeof value === 'string') return value.startsWith('$');
  if (Array.isArray(value)) return value.some(isExpressionLike);
  if (value === null || typeof value !== 'object' || (value as { _bsontype?: unknown })._bsontype !== undefined || value instanceof Date) return false;
  return Object.entries(value as Document).some(([k, v]) => k.startsWith('$') || isExpressionLike(v));
}

/**
 * Whether a per-document stage is pushed to the shards: `$match`, `$unset`, a plain 0/1 `$project`,
 * and `$addFields`/`$set` of constants; under `mongodb`, every per-document stage and `$unwind`.
 * Computed fields otherwise run in the router (see the file's comment: FerretDB 1.24 evaluates a
 * field path in `$addFields` to its own text), and so does `$unwind`: FerretDB 1.24's keeps only
 * `_id` and the unwound field, so a pushed one answered differently from the router's (the
 * differential test found it).
 */
export function isPushable(name: string, arg: unknown, pushdown: Pushdown = 'portable'): boolean {
  if (pushdown === 'mongodb' && COMPUTED.has(name)) return true;
  switch (name) {
    case '$match':
    case '$unset':
      return true;
    case '$unwind':
      return pushdown === 'mongodb';
    case '$project':
      return arg !== null && typeof arg === 'object' && isPlainProjection(arg as Document);
    case '$addFields':
    case '$set':
      return arg !== null && typeof arg === 'object' && !isExpressionLike(arg);
    default:
      return false;
  }
}

function count(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ShardkitInvalidArgumentError(`aggregate: ${name} must be an integer >= ${String(min)} (got ${String(value)})`);
  }
  return value;
}

/** A run of `$skip`/`$limit` stages from `from`, folded into one skip and one limit. */
function skipLimit(stages: readonly Stage[], from: number): { skip: number; limit: number | undefined; next: number } {
  let skip = 0;
  let limit: number | undefined;
  let j = from;
  for (; j < stages.length; j++) {
    const [name, arg] = stageOf(stages[j]);
    if (name === '$skip') {
      const n = count(arg, '$skip', 0);
      skip += n;
      if (limit !== undefined) limit = Math.max(0, limit - n);
    } else if (name === '$limit') {
      const n = count(arg, '$limit', 1);
      limit = limit === undefined ? n : Math.min(limit, n);
    } else break;
  }
  return { skip, limit, next: j };
}

function freshName(taken: Set<string>): string {
  for (let i = 0; ; i++) {
    const name = `__shardkit_${String(i)}`;
    if (!taken.has(name)) {
      taken.add(name);
      return name;
    }
  }
}

/**
 * A `$group` as partial groups per shard plus how to merge them, or undefined when it runs in the
 * router: an accumulator needs the whole stream, or (`portable`) the partials take more than one
 * field, since FerretDB 1.24 computes only the first accumulator of a `$group` and answers 0 for the
 * others. `$avg` goes as a sum and a count of numeric values; `$count` as `$sum: 1`.
 */
export function splitGroup(spec: unknown, pushdown: Pushdown = 'portable'): { shard: Stage; fields: GroupField[] } | undefined {
  if (spec === null || typeof spec !== 'object' || !('_id' in (spec as Document))) throw new ShardkitInvalidArgumentError('aggregate: $group needs an _id');
  const { _id, ...accumulators } = spec as Document;
  const partial: Document = { _id };
  const fields: GroupField[] = [];
  const taken = new Set(Object.keys(accumulators));
  let whole = false;
  for (const [name, acc] of Object.entries(accumulators)) {
    const [op, arg] = stageOf(acc);
    if (ORDERED.has(op)) throw unsupportedAccumulator(name, op, 'a group has no document order across shards: put a $sort before the $group');
    if (ROUTER_ACCUMULATORS.has(op)) {
      whole = true;
      continue;
    }
    if (!MERGED.has(op)) throw unsupportedAccumulator(name, op, 'it is not a known accumulator');
    if (op === '$avg') {
      const [sum, n] = [freshName(taken), freshName(taken)];
      partial[sum] = { $sum: arg };
      partial[n] = { $sum: { $cond: [{ $isNumber: arg }, 1, 0] } };
      fields.push({ name, op, parts: [sum, n] });
    } else if (op === '$count') {
      partial[name] = { $sum: 1 };
      fields.push({ name, op: '$sum', parts: [name] });
    } else {
      partial[name] = { [op]: arg };
      fields.push({ name, op: op as MergedAccumulator, parts: [name] });
    }
  }
  if (whole || (pushdown === 'portable' && Object.keys(partial).length > 2)) return undefined;
  return { shard: { $group: partial }, fields };
}

/** `$sortByCount: expr` as the `$group` and `$sort` it stands for. */
function desugar(stages: readonly Stage[]): Stage[] {
  return stages.flatMap((stage) => {
    const [name, arg] = stageOf(stage);
    if (name !== '$sortByCount') return [stage];
    return [{ $group: { _id: arg, count: { $sum: 1 } } }, { $sort: { count: -1 } }];
  });
}

function sortSpec(arg: unknown): SortSpec[] {
  if (arg !== null && typeof arg === 'object' && Object.values(arg as Document).some((v) => v !== null && typeof v === 'object')) {
    throw unsupportedStage('$sort', 'a $meta sort cannot be merged across shards');
  }
  const sort = normalizeSort(arg as Document);
  if (sort.length === 0) throw new ShardkitInvalidArgumentError('aggregate: $sort needs at least one field');
  return sort;
}

/**
 * Split `pipeline` (checked by {@link assertPipeline}) into what each shard runs, the merge, and the
 * router's remainder.
 *
 * @throws ShardkitInputError `shardkit.aggregate.unsupportedStage` / `.unsupportedAccumulator`.
 */
export function splitPipeline(pipeline: readonly Stage[], pushdown: Pushdown = 'portable'): SplitPlan {
  assertPipeline(pipeline);
  const stages = desugar(pipeline);
  const shard: Stage[] = [];
  let i = 0;
  for (; i < stages.length; i++) {
    const [name, arg] = stageOf(stages[i]);
    if (!isPushable(name, arg, pushdown)) break;
    shard.push(stages[i] as Stage);
  }
  const rest = (from: number): Stage[] => stages.slice(from);
  const concat = { shard, merge: { kind: 'concat' } as const, skip: 0, limit: undefined };
  if (i === stages.length) return { ...concat, router: [] };
  const [name, arg] = stageOf(stages[i]);
  if (name === '$group') {
    const group = splitGroup(arg, pushdown);
    if (group === undefined) return { ...concat, router: rest(i) };
    return { shard: [...shard, group.shard], merge: { kind: 'group', fields: group.fields }, skip: 0, limit: undefined, router: rest(i + 1) };
  }
  if (name === '$count') {
    if (typeof arg !== 'string' || arg.length === 0 || arg.startsWith('$') || arg.includes('.')) {
      throw new ShardkitInvalidArgumentError('aggregate: $count needs a field name (non-empty, no $ prefix, no dot)');
    }
    return { shard: [...shard, { $count: arg }], merge: { kind: 'count', field: arg }, skip: 0, limit: undefined, router: rest(i + 1) };
  }
  if (name === '$sort' || name === '$skip' || name === '$limit') {
    const sort = name === '$sort' ? sortSpec(arg) : undefined;
    const { skip, limit, next } = skipLimit(stages, sort === undefined ? i : i + 1);
    const pushed: Stage[] = sort === undefined ? [] : [stages[i] as Stage];
    if (limit !== undefined) pushed.push({ $limit: skip + limit });
    const merge: Merge = sort === undefined ? { kind: 'concat' } : { kind: 'sort', sort };
    return { shard: [...shard, ...pushed], merge, skip, limit, router: rest(next) };
  }
  return { ...concat, router: rest(i) };
}
