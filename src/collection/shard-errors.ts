/**
 * Error mapping of the data path: what a failed shard call becomes, and the errors the single-key
 * protocol raises itself. "moved" (`shardkit.router.keyMoved`) is the one signal the redirect executor
 * acts on (ADR 0002: a fence newer than the router's epoch turns the operation away); everything else
 * reaches the caller naming the shard. Driver errors are classified by `stores/driver-errors.ts` and
 * messages pass the one redactor, so a connection string's password never reaches a message.
 */
import {
  ErrorCode,
  hasErrorCode,
  ShardkitError,
  ShardkitInputError,
  ShardkitInvalidArgumentError,
  ShardkitRouterError,
  ShardkitStoreError,
} from '../errors.js';
import { keyToString } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import { classifyDriverError } from '../stores/driver-errors.js';
import { redactText } from '../redact.js';

/** Map any failure of a shard call to an error that names the shard and keeps the original as `cause`. */
export function shardError(shardId: string, error: unknown): Error {
  if (error instanceof ShardkitError) {
    if (error.shardId === shardId) return error;
    // Misuse and bad input are the caller's, whichever shard noticed them.
    if (error instanceof ShardkitInvalidArgumentError || error instanceof ShardkitInputError) return error;
  }
  const message = redactText(error instanceof Error ? error.message : String(error));
  const code = error instanceof ShardkitError ? error.code : classifyDriverError(error);
  return new ShardkitStoreError(code, `shard ${shardId}: ${message}`, { shardId, cause: error });
}

/** True for a duplicate `_id` as reported by a shard call (after {@link shardError}). */
export function isDuplicate(error: unknown): boolean {
  return hasErrorCode(error, ErrorCode.storeDuplicateKey);
}

/** The shard turned the operation away (a fence): run it again under a refreshed routing state. */
export function moved(shardId: string, why: string): ShardkitRouterError {
  return new ShardkitRouterError(ErrorCode.keyMoved, `shard ${shardId}: ${why}`, { shardId });
}

/** An insert met a live document with its `_id`, as on one server. */
export function duplicate(shardId: string, key: ShardKey): ShardkitStoreError {
  return new ShardkitStoreError(ErrorCode.storeDuplicateKey, `shard ${shardId}: E11000 duplicate key error: _id ${keyToString(key)} already exists`, {
    shardId,
  });
}

/** A single-key write that met a changed entry on every one of its attempts. */
export function keptRacing(shardId: string, what: 'insert' | 'upsert' | 'delete' | 'read', key: ShardKey): ShardkitStoreError {
  return new ShardkitStoreError(ErrorCode.storeFailure, `shard ${shardId}: ${what} of _id ${keyToString(key)} kept racing with other writers`, { shardId });
}
