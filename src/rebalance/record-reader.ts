/**
 * A typed reader over an untrusted plain record (a journal read back from a config store): each
 * getter checks one field and returns it narrowed, so a parser builds its value without casts, and
 * every failure names the field's path and what was found there.
 */
import { ErrorCode, ShardkitConflictError } from '../errors.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}...` : value}"`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Reads the fields of one object of a record; `path` names it in errors (`journal.moves[2]`). */
export class RecordReader {
  readonly #value: Record<string, unknown>;
  readonly #path: string;
  readonly #root: string;

  private constructor(value: Record<string, unknown>, path: string, root: string) {
    this.#value = value;
    this.#path = path;
    this.#root = root;
  }

  /** A reader over `value`, which must be a plain object; `what` names it in errors. */
  static root(value: unknown, what: string): RecordReader {
    if (!isRecord(value)) throw invalid(what, `${what} must be an object, got ${describe(value)}`);
    return new RecordReader(value, what, what);
  }

  /** The `shardkit.migration.journalInvalid` error for this object, with `message` after its path. */
  invalid(message: string): ShardkitConflictError {
    return invalid(this.#root, `${this.#path} ${message}`);
  }

  #field(key: string, expected: string, value: unknown): ShardkitConflictError {
    return invalid(this.#root, `${this.#path}.${key} must be ${expected}, got ${value === undefined ? 'nothing' : describe(value)}`);
  }

  /** Any value but `undefined` (a cursor `_id` may be of any BSON type). */
  present(key: string): unknown {
    const value = this.#value[key];
    if (value === undefined) throw this.#field(key, 'present', value);
    return value;
  }

  string(key: string): string {
    const value = this.#value[key];
    if (typeof value !== 'string' || value === '') throw this.#field(key, 'a non-empty string', value);
    return value;
  }

  optionalString(key: string): string | undefined {
    return this.#value[key] === undefined ? undefined : this.string(key);
  }

  number(key: string): number {
    const value = this.#value[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw this.#field(key, 'a finite number', value);
    return value;
  }

  /** A number, or `fallback` when the field is absent (added after records of its kind were written). */
  optionalNumber(key: string, fallback: number): number {
    return this.#value[key] === undefined ? fallback : this.number(key);
  }

  nullableNumber(key: string): number | null {
    return this.#value[key] === null ? null : this.number(key);
  }

  integer(key: string): number {
    const value = this.number(key);
    if (!Number.isSafeInteger(value)) throw this.#field(key, 'an integer', value);
    return value;
  }

  optionalNumbers(key: string): number[] | undefined {
    const value = this.#value[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw this.#field(key, 'an array of numbers', value);
    return value.map((v: unknown, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw this.#field(`${key}[${i}]`, 'a finite number', v);
      return v;
    });
  }

  boolean(key: string): boolean {
    const value = this.#value[key];
    if (typeof value !== 'boolean') throw this.#field(key, 'a boolean', value);
    return value;
  }

  optionalBoolean(key: string): boolean | undefined {
    return this.#value[key] === undefined ? undefined : this.boolean(key);
  }

  /** One of `allowed`, compared by identity. */
  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const value = this.#value[key];
    const found = allowed.find((a) => a === value);
    if (found === undefined) throw this.#field(key, `one of ${allowed.join(', ')}`, value);
    return found;
  }

  nullableOneOf<T extends string>(key: string, allowed: readonly T[]): T | null {
    return this.#value[key] === null ? null : this.oneOf(key, allowed);
  }

  /** A reader over the object at `key`. */
  child(key: string): RecordReader {
    const value = this.#value[key];
    if (!isRecord(value)) throw this.#field(key, 'an object', value);
    return new RecordReader(value, `${this.#path}.${key}`, this.#root);
  }

  nullableChild(key: string): RecordReader | null {
    return this.#value[key] === null ? null : this.child(key);
  }

  /** Readers over the objects of the array at `key`. */
  children(key: string): RecordReader[] {
    const value = this.#value[key];
    if (!Array.isArray(value)) throw this.#field(key, 'an array', value);
    return value.map((v: unknown, i) => {
      if (!isRecord(v)) throw this.#field(`${key}[${i}]`, 'an object', v);
      return new RecordReader(v, `${this.#path}.${key}[${i}]`, this.#root);
    });
  }
}

function invalid(what: string, message: string): ShardkitConflictError {
  return new ShardkitConflictError(ErrorCode.journalInvalid, `invalid migration ${what}: ${message}`);
}
