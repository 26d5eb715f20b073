/**
 * Whether an update changed the document it matched, decided from the document as it was before
 * (`findOneAndUpdate`'s `returnDocument: 'before'`, read with exact BSON types), so a store learns the
 * driver's `modifiedCount` from the one round trip that writes. The server cannot tell us: shardkit's
 * `_v` bump makes every matched update a modification to it.
 *
 * The decision is MongoDB's own no-op rule, per path: a `$set` of the bytes already there (type
 * included: int32 `5` over a double `5.0` is a change), an `$unset` of a missing field or an `$inc` by
 * 0 of a number change nothing. It must be known before the write is sent that the rule can be
 * applied, so only the operators and paths it covers qualify; for the others
 * ({@link updateEffect} answers undefined) the store reads the version first and compares.
 */
import { BSON } from 'mongodb';
import type { BSONSerializeOptions, Document } from 'mongodb';
import { isPlainObject } from './simple-update.js';

/**
 * What a store needs to report an update's `modifiedCount`: `'always'` (every match is a modification:
 * the write's own match count answers), a test of the matched document as it was before, or
 * `'unknown'` (read the version first and compare it with what the write left).
 */
export type UpdateEffect = 'always' | 'unknown' | ((before: Document) => boolean);

/** Operators that change every document they match, as the stores have always counted them. */
const ALWAYS_CHANGES = new Set(['$push', '$currentDate']);

interface PathStep {
  readonly op: '$set' | '$unset' | '$inc';
  readonly parts: readonly string[];
  readonly value: unknown;
}

/** A dotted path through sub-documents only: no array index, no positional operator. */
function plainPath(path: string): string[] | undefined {
  if (path.length === 0 || path.includes('$')) return undefined;
  // Most paths are one field: no split.
  if (!path.includes('.')) {
    const c = path.charCodeAt(0);
    return c >= 48 && c <= 57 ? undefined : [path];
  }
  const parts = path.split('.');
  for (const p of parts) if (p.length === 0 || (p.charCodeAt(0) >= 48 && p.charCodeAt(0) <= 57)) return undefined;
  return parts;
}

/** The value at `parts` in `doc`, or `MISSING` (a sub-document on the way absent or not a document). */
const MISSING = Symbol('missing');
function valueAt(doc: Document, parts: readonly string[]): unknown {
  let at: unknown = doc;
  for (const part of parts) {
    if (!isPlainObject(at) || !Object.prototype.hasOwnProperty.call(at, part)) return MISSING;
    at = at[part];
  }
  return at;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Whether a JS number goes out as an int32 (else a double), as BSON's serializer decides. */
function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= -2147483648 && n <= 2147483647 && !Object.is(n, -0);
}

/**
 * `a` (read with exact types) against `b` (the update's value) for the common scalars, without
 * serializing: a number against an `Int32` or a `Double`, a string against a string. Undefined
 * where only the bytes can tell (NaN payloads, lone surrogates, anything else).
 */
function sameScalar(a: unknown, b: unknown): boolean | undefined {
  if (typeof b === 'number' && a !== null && typeof a === 'object') {
    const tag = (a as { _bsontype?: unknown })._bsontype;
    if (tag !== 'Int32' && tag !== 'Double') return undefined;
    if (Number.isNaN(b)) return undefined;
    return (tag === 'Int32') === isInt32(b) && Object.is((a as { valueOf(): number }).valueOf(), b);
  }
  // Two different strings have different UTF-8 bytes unless one holds a lone surrogate (then U+FFFD).
  if (typeof a === 'string' && typeof b === 'string') return a === b ? true : SURROGATE.test(a) || SURROGATE.test(b) ? undefined : false;
  return undefined;
}

/** True when `a` and `b` serialize to the same BSON bytes (as the server compares values for a no-op). */
function sameBytes(a: unknown, b: unknown, options: BSONSerializeOptions): boolean {
  return sameScalar(a, b) ?? Buffer.from(BSON.serialize({ v: a }, options)).equals(BSON.serialize({ v: b }, options));
}

function changes(step: PathStep, before: Document, options: BSONSerializeOptions): boolean {
  const current = valueAt(before, step.parts);
  if (step.op === '$unset') return current !== MISSING;
  if (current === MISSING) return true;
  // An `$inc` by 0 of a number leaves it as it is (an int32 stays an int32); of anything else the server refused it.
  if (step.op === '$inc') return false;
  return !sameBytes(current, step.value, options);
}

/**
 * How to tell whether `update` (the caller's, without the `_v` bump) modified a document it matched.
 * `'always'` when it has an `$inc` by a non-zero number, a `$push` or a `$currentDate`. `'unknown'`
 * when the document before cannot decide it: a pipeline, an operator other than `$set`, `$unset`,
 * `$inc` by numbers and `$setOnInsert` (nothing on a match), a path through an array element or a
 * positional operator, an `$inc` by -0 (a double: it turns an int32 into a double), or a `$set`
 * value holding `undefined` (whose bytes depend on the client's `ignoreUndefined`). `options` are the
 * collection's BSON options, so values serialize as the driver sends them.
 */
export function updateEffect(update: Document | Document[], options: BSONSerializeOptions = {}): UpdateEffect {
  if (Array.isArray(update)) return 'unknown';
  const steps: PathStep[] = [];
  let always = false;
  for (const op of Object.keys(update)) {
    const fields: unknown = update[op];
    if (op === '$setOnInsert') continue;
    if (ALWAYS_CHANGES.has(op)) {
      always = true;
      continue;
    }
    if ((op !== '$set' && op !== '$unset' && op !== '$inc') || !isPlainObject(fields)) return 'unknown';
    for (const path of Object.keys(fields)) {
      const value = fields[path];
      if (op === '$inc') {
        if (typeof value !== 'number' || Object.is(value, -0)) return 'unknown';
        // A change even where float precision absorbs it, as the stores have always counted it.
        if (value !== 0) always = true;
      }
      if (op === '$set' && !definedThroughout(value)) return 'unknown';
      const parts = plainPath(path);
      if (parts === undefined) return 'unknown';
      steps.push({ op, parts, value });
    }
  }
  if (always) return 'always';
  return (before) => steps.some((step) => changes(step, before, options));
}

/** False when `value` is or holds `undefined` (in a document or an array), whose bytes the client's options decide. */
function definedThroughout(value: unknown): boolean {
  if (value === undefined) return false;
  if (Array.isArray(value)) return value.every(definedThroughout);
  if (isPlainObject(value)) return Object.values(value).every(definedThroughout);
  return true;
}
