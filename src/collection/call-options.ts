/**
 * The driver options of one `ShardedCollection` call (`ShardedReadOptions`, `ShardedWriteOptions`):
 * checked once, before anything is routed, then carried to every shard request the call makes in its
 * async context (`stores/driver-options.ts`), with `maxTimeMS` as a deadline over the whole call
 * (`stores/deadline.ts`: the earlier of it and shardkit's own wins). A part of the data path therefore
 * needs no parameter for them: whatever runs inside `withCallOptions` carries them.
 */
import { ReadConcern, ReadPreference, WriteConcern } from 'mongodb';
import { systemClock } from '../clock.js';
import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../errors.js';
import { deadlineIn, withDeadline } from '../stores/deadline.js';
import { type DriverCallOptions, withDriverOptions } from '../stores/driver-options.js';
import type { ShardedReadOptions, ShardedWriteOptions } from './types.js';

type AnyOptions = ShardedReadOptions & ShardedWriteOptions;

/** The option's value turned into the driver's form, or a `shardkit.invalidArgument` naming it. */
function parsed<T>(op: string, name: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new ShardkitInvalidArgumentError(`${op}: bad ${name}: ${(error as Error).message}`, { cause: error });
  }
}

function checkedMaxTime(op: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ShardkitInvalidArgumentError(`${op}: maxTimeMS must be an integer >= 0 (got ${String(value)})`);
  }
  return value;
}

function refuseUnsupported(op: string, options: AnyOptions): void {
  if (options.collation !== undefined) {
    throw new ShardkitInputError(
      ErrorCode.optionUnsupported,
      `${op}: collation is not supported: shardkit routes by _id equality and merges shards' results in binary BSON order, which a collation would contradict`,
    );
  }
  if (options.hint !== undefined) {
    throw new ShardkitInputError(ErrorCode.optionUnsupported, `${op}: hint is not supported: the call's own lookups by _id would be sent with it`);
  }
}

/** The write concern of `options`, refused when unacknowledged: every write's outcome steers the protocol. */
function checkedWriteConcern(op: string, options: AnyOptions): WriteConcern | undefined {
  if (options.writeConcern === undefined) return undefined;
  const wc = parsed(op, 'writeConcern', () => WriteConcern.fromOptions({ writeConcern: options.writeConcern }));
  if (wc?.w === 0) {
    throw new ShardkitInputError(
      ErrorCode.unacknowledgedWrite,
      `${op}: an unacknowledged write concern (w: 0) is refused: the migration protocol decides on every write's outcome (matched, fenced, duplicate), which w: 0 never reports`,
    );
  }
  return wc;
}

/**
 * The checked driver options of a `kind` call named `op`, and its `maxTimeMS` (0: none); undefined
 * when the call set none. Options of the other kind (a write concern on a read) are ignored, as the
 * driver ignores them.
 *
 * @throws ShardkitInvalidArgumentError for a malformed option, ShardkitInputError
 *   `shardkit.option.unsupported` (collation, hint) or `shardkit.option.unacknowledgedWrite` (w: 0).
 */
export function checkCallOptions(kind: 'read' | 'write', op: string, options: object | undefined): { driver: DriverCallOptions; maxTimeMS: number } | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') throw new ShardkitInvalidArgumentError(`${op}: options must be an object`);
  const o = options as AnyOptions;
  // A call's options are `{}` when the application set none: nothing to check or carry.
  if (Object.keys(o).length === 0) return undefined;
  refuseUnsupported(op, o);
  const maxTimeMS = checkedMaxTime(op, o.maxTimeMS);
  let driver: DriverCallOptions = { kind, ...(o.comment === undefined ? {} : { comment: o.comment }) };
  if (kind === 'read') {
    const readPreference = o.readPreference === undefined ? undefined : parsed(op, 'readPreference', () => ReadPreference.fromOptions({ readPreference: o.readPreference }));
    const readConcern = o.readConcern === undefined ? undefined : parsed(op, 'readConcern', () => ReadConcern.fromOptions({ readConcern: o.readConcern }));
    driver = { ...driver, ...(readPreference === undefined ? {} : { readPreference }), ...(readConcern === undefined ? {} : { readConcern }) };
  } else {
    const writeConcern = checkedWriteConcern(op, o);
    if (writeConcern !== undefined) driver = { ...driver, writeConcern };
  }
  if (maxTimeMS === 0 && Object.keys(driver).length === 1) return undefined;
  return { driver, maxTimeMS };
}

/**
 * Run `fn`, the body of a `kind` call named `op`, with `options` carried to every shard request it makes
 * and `maxTimeMS` bounding all of it. A call without options runs as it is (an enclosing call's
 * options, if any, stay in force).
 */
export function withCallOptions<R>(kind: 'read' | 'write', op: string, options: object | undefined, fn: () => Promise<R>): Promise<R> {
  // Not an async function (one promise less per call); what it throws still comes back as a rejection.
  try {
    const checked = checkCallOptions(kind, op, options);
    if (checked === undefined) return fn();
    const { driver, maxTimeMS } = checked;
    const carried = (): Promise<R> => withDriverOptions(driver, fn);
    return maxTimeMS > 0 ? withDeadline(deadlineIn(systemClock, maxTimeMS), carried) : carried();
  } catch (error) {
    return Promise.reject(error as Error);
  }
}
