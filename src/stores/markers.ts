/**
 * What a stored entry is, tested on an entry in hand: live data, a fence, a placeholder, a tombstone
 * (the reserved fields of `shard-store.ts`). `store-filters.ts` selects the same entries on a server
 * (`LIVE`, `UNFENCED`); `MemoryStore` applies these predicates where `MongoStore` sends those filters,
 * so both stores draw the lines in one place. A marker counts when its field is present, as a server's
 * `$exists` sees it.
 */
import type { StoredDocument } from './shard-store.js';

/** Neither fenced, placeholder nor tombstone: the application's data, the only entry its writes match. */
export function isLive(doc: StoredDocument): boolean {
  return doc._moved === undefined && doc._ph === undefined && doc._ts === undefined;
}

/** Carries `_moved`: a migration fenced this entry (data, placeholder or tombstone); it is final here. */
export function isFenced(doc: StoredDocument): boolean {
  return doc._moved !== undefined;
}

/** A fence on a key that had no document here: no data. */
export function isPlaceholder(doc: StoredDocument): boolean {
  return doc._ph === true;
}

/** A delete recorded at a new owner while migrating or settling: no data. */
export function isTombstone(doc: StoredDocument): boolean {
  return doc._ts === true;
}

/** A fenced document or a placeholder: the key moved (or is moving) away from this shard. */
export function isFence(doc: StoredDocument): boolean {
  return isFenced(doc) || isPlaceholder(doc);
}

/** Carries application data (live or fenced, not a placeholder or tombstone). */
export function hasData(doc: StoredDocument): boolean {
  return doc._ph === undefined && doc._ts === undefined;
}
