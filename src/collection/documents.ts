/**
 * What the data path does to documents on their way in and out: the reserved fields it adds and strips,
 * the fence epoch a marker names (the marker tests live in stores/markers.ts), shard-key extraction
 * from filters, and projections.
 */
import { Query } from 'mingo';
import type { Document, Filter } from 'mongodb';
import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../errors.js';
import { assertShardKey } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import { Field, type StoredDocument } from '../stores/shard-store.js';
import { isOperatorObject } from '../stores/store-filters.js';

/** Fields shardkit keeps on stored documents; the application never sees them. */
export const RESERVED_FIELDS: readonly string[] = [Field.hash, Field.version, Field.moved, Field.placeholder, Field.tombstone];

const RESERVED = new Set(RESERVED_FIELDS);

/** The application's view of a stored document: every reserved field removed. */
export function stripMarkers<T>(doc: Document): T {
  const out: Document = {};
  for (const key of Object.keys(doc)) if (!RESERVED.has(key)) out[key] = doc[key];
  return out as T;
}

/** A copy fit for `insertIfAbsent` at a new owner: data, `_id`, `_h`, `_v`, no markers. */
export function copyForTarget(doc: StoredDocument): StoredDocument {
  const out: Document = {};
  for (const key of Object.keys(doc)) {
    if (key === Field.moved || key === Field.placeholder || key === Field.tombstone) continue;
    out[key] = doc[key];
  }
  return out as StoredDocument;
}

/** The migration epoch a fence names (0 for an unstamped placeholder). */
export function fenceEpoch(doc: StoredDocument): number {
  return typeof doc._moved === 'number' ? doc._moved : 0;
}

/**
 * The shard key a filter pins by equality on `_id` (`{_id: k}` or `{_id: {$eq: k}}`), or undefined when
 * the filter does not name one key. A pinned value that is not a valid shard key throws `shardkit.key.invalid`.
 */
export function filterKey(filter: Filter<Document> | undefined): ShardKey | undefined {
  if (filter === undefined || filter === null) return undefined;
  const raw: unknown = (filter as Document)['_id'];
  if (raw === undefined) return undefined;
  if (isOperatorObject(raw)) {
    const keys = Object.keys(raw);
    if (keys.length !== 1 || keys[0] !== '$eq') return undefined;
    const value = raw['$eq'];
    assertShardKey(value);
    return value;
  }
  assertShardKey(raw);
  return raw;
}

/** Like {@link filterKey}, but a single-document write must name its key: refuses filters without one. */
export function requireFilterKey(filter: Filter<Document> | undefined, op: string): ShardKey {
  if (filter === undefined || filter === null || typeof filter !== 'object') {
    throw new ShardkitInvalidArgumentError(`${op}: filter must be an object naming the shard key _id`);
  }
  const key = filterKey(filter);
  if (key === undefined) {
    // Routing a single-document write needs its shard key; an operator on _id cannot be routed.
    throw new ShardkitInputError(ErrorCode.keyInvalid, `${op}: the filter must pin the shard key _id by equality`);
  }
  return key;
}

/** True when the filter is exactly `{_id: k}` (so a raw read by `_id` already answers it). */
export function onlyKey(filter: Filter<Document>): boolean {
  const keys = Object.keys(filter);
  return keys.length === 1 && keys[0] === '_id';
}

/** Whether the application's view of a document matches a filter (evaluated client-side, by mingo). */
export function matchesFilter(filter: Filter<Document>, doc: Document): boolean {
  if (onlyKey(filter)) return true;
  return new Query(filter as Record<string, unknown>).test(doc);
}

/** Refuse application documents and replacements that carry a reserved field. */
export function assertNoReserved(doc: Document, what: string): void {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ShardkitInvalidArgumentError(`${what} must be a document`);
  }
  for (const key of Object.keys(doc)) {
    if (RESERVED.has(key)) throw new ShardkitInvalidArgumentError(`${what} must not carry the reserved field '${key}'`);
  }
}

/** True for a projection of plain 0/1 fields, which can be pushed down and re-applied without change. */
export function isPlainProjection(projection: Document): boolean {
  return Object.values(projection).every((v) => v === 0 || v === 1 || v === true || v === false);
}

/**
 * The projection sent to each shard: the caller's plain projection widened so every field shardkit needs
 * (reserved fields, `_id`, sort fields) comes back; undefined when nothing can be narrowed.
 */
export function pushedProjection(projection: Document | undefined, sortPaths: readonly string[]): Document | undefined {
  if (projection === undefined || Object.keys(projection).length === 0 || !isPlainProjection(projection)) return undefined;
  const inclusive = Object.entries(projection).some(([k, v]) => k !== '_id' && (v === 1 || v === true));
  if (inclusive) {
    const out: Document = {};
    for (const [k, v] of Object.entries(projection)) if (k !== '_id' && (v === 1 || v === true)) out[k] = 1;
    for (const p of sortPaths) if (!coveredBy(p, Object.keys(out))) out[p] = 1;
    for (const f of RESERVED_FIELDS) out[f] = 1;
    out['_id'] = 1;
    return dropNested(out);
  }
  const out: Document = {};
  for (const [k, v] of Object.entries(projection)) {
    if (k === '_id' || RESERVED.has(k)) continue;
    if (v === 0 || v === false) {
      if (sortPaths.some((p) => p === k || p.startsWith(`${k}.`) || k.startsWith(`${p}.`))) continue;
      out[k] = 0;
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function coveredBy(path: string, paths: readonly string[]): boolean {
  return paths.some((p) => path === p || path.startsWith(`${p}.`));
}

// A projection may not name both `a` and `a.b` (a path collision on the server).
function dropNested(projection: Document): Document {
  const keys = Object.keys(projection);
  const out: Document = {};
  for (const k of keys) if (!keys.some((p) => p !== k && k.startsWith(`${p}.`))) out[k] = projection[k];
  return out;
}

/** Apply the caller's projection to application documents (client-side, by mingo). */
export function applyProjection<T>(docs: readonly Document[], projection: Document | undefined): T[] {
  if (projection === undefined || Object.keys(projection).length === 0) return docs as T[];
  return new Query({}).find(docs as Record<string, unknown>[], projection as Record<string, unknown>).all() as T[];
}
