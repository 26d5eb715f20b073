/**
 * Maps MongoDB driver errors to shardkit's store errors: one place decides what is a duplicate key,
 * an unreachable shard or a timeout, so retry and circuit-breaker policies can rely on the codes.
 */
import { ErrorCode, ShardkitError, ShardkitStoreError } from '../errors.js';

/** Server codes of a duplicate `_id` (or unique index) violation. */
const DUPLICATE_CODES: ReadonlySet<number> = new Set([11000, 11001, 12582]);
/** MaxTimeMSExpired, NetworkTimeout, ExceededTimeLimit. */
const TIMEOUT_CODES: ReadonlySet<number> = new Set([50, 89, 262]);
/** Server states in which another attempt later may succeed: not primary, shutting down, host down. */
const UNAVAILABLE_CODES: ReadonlySet<number> = new Set([6, 7, 91, 189, 10107, 11600, 11602, 13435, 13436]);

const UNAVAILABLE_NAMES: ReadonlySet<string> = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongoPoolClosedError',
  'MongoServerClosedError',
]);
const TIMEOUT_NAMES: ReadonlySet<string> = new Set(['MongoNetworkTimeoutError', 'MongoOperationTimeoutError', 'MongoWaitQueueTimeoutError']);

/**
 * The server or driver error code, when there is a numeric one. A request sent with exact types
 * (`promoteValues: false`, `exact-types.ts`) gets its error response unpromoted too: the code is an
 * `Int32`, which must classify as the number it holds (a duplicate key is a duplicate key).
 */
export function driverErrorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return code;
  if (code !== null && typeof code === 'object' && (code as { _bsontype?: unknown })._bsontype === 'Int32') return (code as { valueOf(): number }).valueOf();
  return undefined;
}

/** True for a server code of a duplicate `_id` (or unique index) violation, e.g. one write error of a bulk. */
export function isDuplicateKeyCode(code: number): boolean {
  return DUPLICATE_CODES.has(code);
}

/** True for a duplicate key error, including a bulk whose only write errors are duplicates. */
export function isDuplicateKeyError(error: unknown): boolean {
  const code = driverErrorCode(error);
  if (code !== undefined && isDuplicateKeyCode(code)) return true;
  const writeErrors = bulkWriteErrors(error);
  return writeErrors.length > 0 && writeErrors.every((w) => isDuplicateKeyCode(w.code));
}

/** The write errors of a driver bulk error (the driver gives one object or an array). */
export function bulkWriteErrors(error: unknown): Array<{ index: number; code: number; errmsg?: string }> {
  const raw = (error as { writeErrors?: unknown } | null)?.writeErrors;
  if (raw === undefined || raw === null) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((w: { index?: number; code?: number; errmsg?: string; err?: { index?: number; code?: number; errmsg?: string } }) => ({
    index: w.index ?? w.err?.index ?? -1,
    code: w.code ?? w.err?.code ?? -1,
    ...(w.errmsg !== undefined || w.err?.errmsg !== undefined ? { errmsg: w.errmsg ?? w.err?.errmsg } : {}),
  }));
}

/** The shardkit code for a driver error. */
export function classifyDriverError(error: unknown): ErrorCode {
  if (isDuplicateKeyError(error)) return ErrorCode.storeDuplicateKey;
  const name = (error as { name?: unknown } | null)?.name;
  const code = driverErrorCode(error);
  if (typeof name === 'string' && TIMEOUT_NAMES.has(name)) return ErrorCode.storeTimeout;
  if (code !== undefined && TIMEOUT_CODES.has(code)) return ErrorCode.storeTimeout;
  if (typeof name === 'string' && UNAVAILABLE_NAMES.has(name)) return ErrorCode.storeUnavailable;
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) return ErrorCode.storeUnavailable;
  const labels = (error as { errorLabels?: unknown } | null)?.errorLabels;
  if (Array.isArray(labels) && (labels.includes('ResetPool') || labels.includes('RetryableWriteError'))) return ErrorCode.storeUnavailable;
  return ErrorCode.storeFailure;
}

/**
 * Wrap a driver error as a `ShardkitStoreError` naming the shard and the operation, with the driver
 * error as `cause`. Shardkit errors pass through unchanged. Credentials never reach the message:
 * `ShardkitError` redacts every message it is given.
 */
export function wrapDriverError(shardId: string, op: string, error: unknown): ShardkitError {
  if (error instanceof ShardkitError) return error;
  const code = classifyDriverError(error);
  const detail = error instanceof Error ? error.message : String(error);
  return new ShardkitStoreError(code, `shard ${shardId}: ${op} failed: ${detail}`, { shardId, cause: error });
}
