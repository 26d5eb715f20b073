/**
 * The router's half of a split pipeline (`split.ts`): merging the shards' answers. Shards answer in
 * exact BSON types (`MongoStore` reads them unpromoted), so sums are added as the server adds them
 * (int32 widening to long, long to double, any double making a double) and only the merged result is
 * promoted to the values the driver hands an application (`promote`). Values compare and group by
 * the stores' one BSON comparator (`stores/bson-order.ts`): `1`, `1.0` and `Long(1)` are one key.
 */
import { BSON, Long } from 'mongodb';
import type { Document } from 'mongodb';
import { ErrorCode, ShardkitInputError } from '../../errors.js';
import { compareBson, idKey, sortComparator, type SortSpec } from '../../stores/bson-order.js';
import type { GroupField, Merge } from './split.js';

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function tagOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const tag = (value as { _bsontype?: unknown })._bsontype;
  return typeof tag === 'string' ? tag : undefined;
}

/**
 * A running `$sum` as the server keeps it: an exact integer while every input is an int32 or a long,
 * a double once any input is a double (or a long overflows). Non-numbers are ignored, as `$sum` does.
 */
export class NumericSum {
  #int = 0n;
  #double = 0;
  #kind: 'int' | 'long' | 'double' = 'int';
  /** How many numbers were added (what `$avg` divides by). */
  count = 0;

  add(value: unknown): void {
    const tag = tagOf(value);
    if (tag === 'Decimal128') {
      throw new ShardkitInputError(ErrorCode.aggregateUnsupportedAccumulator, 'aggregate: shardkit cannot merge $sum/$avg partials of Decimal128 values exactly');
    }
    let n: number | bigint;
    let kind: 'int' | 'long' | 'double';
    if (typeof value === 'number') [n, kind] = Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 ? [value, 'int'] : [value, 'double'];
    else if (typeof value === 'bigint') [n, kind] = [value, 'long'];
    else if (tag === 'Int32') [n, kind] = [(value as { valueOf(): number }).valueOf(), 'int'];
    else if (tag === 'Double') [n, kind] = [(value as { valueOf(): number }).valueOf(), 'double'];
    else if (tag === 'Long') [n, kind] = [(value as Long).toBigInt(), 'long'];
    else return;
    this.count++;
    if (kind === 'double' || this.#kind === 'double') {
      this.#double = (this.#kind === 'double' ? this.#double : Number(this.#int)) + Number(n);
      this.#kind = 'double';
      return;
    }
    this.#int += BigInt(n);
    if (kind === 'long' || this.#int < INT32_MIN || this.#int > INT32_MAX) this.#kind = 'long';
    if (this.#int < INT64_MIN || this.#int > INT64_MAX) {
      this.#double = Number(this.#int);
      this.#kind = 'double';
    }
  }

  /** The sum as the server would return it: an int32 as a number, a long as a `Long`, a double. */
  value(): number | Long {
    if (this.#kind === 'double') return this.#double;
    if (this.#kind === 'long') return Long.fromBigInt(this.#int);
    return Number(this.#int);
  }

  /** The sum as a double (for `$avg`). */
  asDouble(): number {
    return this.#kind === 'double' ? this.#double : Number(this.#int);
  }
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

/** Merges one output field's partials into its value. */
function mergeField(field: GroupField, partials: readonly Document[]): unknown {
  const [first, second] = field.parts as [string, string | undefined];
  switch (field.op) {
    case '$sum': {
      const sum = new NumericSum();
      for (const p of partials) sum.add(p[first]);
      return sum.value();
    }
    case '$avg': {
      const sum = new NumericSum();
      let n = 0;
      for (const p of partials) {
        sum.add(p[first]);
        n += Number(p[second as string] ?? 0);
      }
      return n === 0 ? null : sum.asDouble() / n;
    }
    case '$min':
    case '$max': {
      let best: unknown = null;
      for (const p of partials) {
        const v = p[first];
        if (!present(v)) continue;
        if (!present(best) || (field.op === '$min' ? compareBson(v, best) < 0 : compareBson(v, best) > 0)) best = v;
      }
      return best;
    }
    case '$push':
      return partials.flatMap((p) => (Array.isArray(p[first]) ? (p[first] as unknown[]) : []));
    case '$addToSet': {
      const seen = new Map<string, unknown>();
      for (const p of partials) for (const v of Array.isArray(p[first]) ? (p[first] as unknown[]) : []) if (!seen.has(idKey(v))) seen.set(idKey(v), v);
      return [...seen.values()];
    }
  }
}

/** Partial groups from every shard merged into one document per group key (BSON equality). */
export function mergeGroups(streams: ReadonlyArray<readonly Document[]>, fields: readonly GroupField[]): Document[] {
  const groups = new Map<string, Document[]>();
  for (const stream of streams) {
    for (const partial of stream) {
      const key = idKey(partial['_id'] ?? null);
      const list = groups.get(key);
      if (list === undefined) groups.set(key, [partial]);
      else list.push(partial);
    }
  }
  return [...groups.values()].map((partials) => {
    const out: Document = { _id: partials[0]?.['_id'] ?? null };
    for (const field of fields) out[field.name] = mergeField(field, partials);
    return out;
  });
}

/**
 * Shard streams each sorted by `sort`, merged k-way into one sorted stream (ties keep shard order).
 * Holds one head per stream; k is the number of shards, so a scan of the heads beats a heap.
 */
export function mergeSorted(streams: ReadonlyArray<readonly Document[]>, sort: readonly SortSpec[]): Document[] {
  const compare = sortComparator(sort);
  const at = streams.map(() => 0);
  const out: Document[] = [];
  for (;;) {
    let best = -1;
    for (let s = 0; s < streams.length; s++) {
      const doc = streams[s]?.[at[s] as number];
      if (doc === undefined) continue;
      if (best < 0 || compare(doc, streams[best]?.[at[best] as number] as Document) < 0) best = s;
    }
    if (best < 0) return out;
    out.push(streams[best]?.[at[best] as number] as Document);
    at[best] = (at[best] as number) + 1;
  }
}

/** The shards' answers merged as the plan says, then skipped and limited. */
export function mergeStreams(streams: ReadonlyArray<readonly Document[]>, merge: Merge, skip: number, limit: number | undefined): Document[] {
  let merged: Document[];
  switch (merge.kind) {
    case 'concat':
      merged = streams.flat();
      break;
    case 'sort':
      merged = mergeSorted(streams, merge.sort);
      break;
    case 'group':
      merged = mergeGroups(streams, merge.fields);
      break;
    case 'count': {
      const sum = new NumericSum();
      for (const doc of streams.flat()) sum.add(doc[merge.field]);
      // `$count` of no documents is no document, not a zero.
      merged = sum.count === 0 || sum.asDouble() === 0 ? [] : [{ [merge.field]: sum.value() }];
      break;
    }
  }
  return merged.slice(skip, limit === undefined ? undefined : skip + limit);
}

/** A document with the values the driver gives applications by default (BSON wrappers promoted). */
export function promote(doc: Document): Document {
  return BSON.deserialize(BSON.serialize(doc));
}
