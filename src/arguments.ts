/**
 * Checks of the arguments a public constructor or factory receives. TypeScript callers cannot pass
 * `undefined` where an options object is due, but plain JavaScript can, and then the first property
 * read fails as a `TypeError` deep inside the class (`Cannot destructure property 'points' of
 * 'parts'`). These checks turn that into `shardkit.invalidArgument` naming the argument, the one
 * error an application already handles for API misuse (ADR 0001, decision 5).
 */
import { ShardkitInvalidArgumentError } from './errors.js';

/** What `value` is, for a message: `undefined`, `null`, `an array`, `a number (42)`, `a string ("x")`. */
export function describeArgument(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `a ${typeof value} (${String(value)})`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return 'an object';
  }
}

/** The misuse error for argument `what` (e.g. `new Ring(parts): parts`), which must be `expected`. */
export function invalidArgument(what: string, expected: string, value: unknown): ShardkitInvalidArgumentError {
  return new ShardkitInvalidArgumentError(`${what} must be ${expected} (got ${describeArgument(value)})`);
}

/** A plain object or class instance: not null, not an array, not a function. */
function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throw `shardkit.invalidArgument` unless `value` is an object (not null, not an array). */
export function requireObject(value: unknown, what: string, expected = 'an object'): asserts value is object {
  if (!isObject(value)) throw invalidArgument(what, expected, value);
}

/** Like {@link requireObject}, for an argument that may be left out (`undefined`), but not `null`. */
export function optionalObject(value: unknown, what: string, expected = 'an object'): asserts value is object | undefined {
  if (value !== undefined && !isObject(value)) throw invalidArgument(what, `${expected} or left out`, value);
}

/** Throw `shardkit.invalidArgument` unless `value` is a non-empty string. */
export function requireString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value === '') throw invalidArgument(what, 'a non-empty string', value);
}

/** Throw `shardkit.invalidArgument` unless `value` is an object with every method in `methods`. */
export function requireMethods(value: unknown, what: string, expected: string, methods: readonly string[]): void {
  if (!isObject(value) || methods.some((m) => typeof value[m] !== 'function')) throw invalidArgument(what, expected, value);
}
