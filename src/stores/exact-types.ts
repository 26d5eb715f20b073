/**
 * Reads whose documents are written again elsewhere (a migration's copy, a relic taken back, a repair)
 * must keep every BSON type: the driver's default promotion turns a double `8.0`, an int32 `8` and a
 * long `8` into the same JS number, which is written back as an int32. Such reads ask the server for
 * unpromoted values (`Double`, `Int32`, `Long` wrappers, which serialize to the type they came from)
 * and then turn only the protocol's own fields back into the JS values every comparison of the
 * protocol expects: `_h`, `_v` and `_moved` as numbers, a numeric `_id` as a number (int32, double) or
 * a bigint (long, which the driver writes back as a long).
 */
import { BSON } from 'mongodb';
import type { Document } from 'mongodb';
import type { StoredDocument } from './shard-store.js';

/** Driver read options that keep every value's BSON type. */
export const EXACT_TYPES = Object.freeze({ promoteValues: false, promoteLongs: false }) as { readonly promoteValues: false; readonly promoteLongs: false };

const PROTOCOL_NUMBERS = ['_h', '_v', '_moved'] as const;

function tagOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const tag = (value as { _bsontype?: unknown })._bsontype;
  return typeof tag === 'string' ? tag : undefined;
}

function protocolNumber(value: unknown): unknown {
  const tag = tagOf(value);
  if (tag === 'Int32' || tag === 'Double') return (value as { valueOf(): number }).valueOf();
  if (tag === 'Long') return Number((value as { toBigInt(): bigint }).toBigInt());
  return value;
}

function idValue(value: unknown): unknown {
  const tag = tagOf(value);
  if (tag === 'Int32' || tag === 'Double') return (value as { valueOf(): number }).valueOf();
  if (tag === 'Long') return (value as { toBigInt(): bigint }).toBigInt();
  return value;
}

/** A document read with {@link EXACT_TYPES}, its protocol fields back as JS values (in place). */
export function withProtocolValues<T extends Document>(doc: T): T & StoredDocument {
  const d = doc as Document;
  if ('_id' in d) d['_id'] = idValue(d['_id']);
  for (const f of PROTOCOL_NUMBERS) if (f in d) d[f] = protocolNumber(d[f]);
  return doc as T & StoredDocument;
}

/**
 * A value read with {@link EXACT_TYPES} as the driver's default promotion would have given it: an
 * int32 or a double as a number, a long as a number when it fits one exactly (else the `Long`).
 */
export function promoted(value: unknown): unknown {
  const tag = tagOf(value);
  if (tag === 'Int32' || tag === 'Double') return (value as { valueOf(): number }).valueOf();
  if (tag === 'Long') {
    const big = (value as { toBigInt(): bigint }).toBigInt();
    return Number.isSafeInteger(Number(big)) ? Number(big) : value;
  }
  return value;
}

function dataBytes(doc: Document): Uint8Array {
  const rest: Document = {};
  for (const [k, v] of Object.entries(doc)) if (k !== '_id' && k !== '_v') rest[k] = v;
  return BSON.serialize(rest);
}

/**
 * True when two versions of a document hold the same data, byte for byte as BSON (types and field
 * order included, as the server decides a no-op), `_id` and `_v` aside: the write changed nothing,
 * and the driver reports `modifiedCount: 0` for it.
 */
export function sameData(a: Document, b: Document): boolean {
  return Buffer.from(dataBytes(a)).equals(dataBytes(b));
}
