/**
 * One error hierarchy for shardkit, after the MongoDB driver's `src/error.ts`:
 * a base class with a stable, namespaced `code`, misuse vs bad-input vs runtime subclasses,
 * and retryability decided by a predicate rather than scattered `instanceof` checks.
 *
 * Codes are stable across minor versions; messages are not.
 */
import { redactText } from './redact.js';

/** Every error code shardkit raises. Stable across minor versions. */
export const ErrorCode = {
  // bad input
  keyInvalid: 'shardkit.key.invalid',
  topologyInvalid: 'shardkit.topology.invalid',
  topologyParse: 'shardkit.topology.parse',
  topologyNoShards: 'shardkit.topology.noShards',
  topologyDuplicateShard: 'shardkit.topology.duplicateShard',
  topologyUnknownShard: 'shardkit.topology.unknownShard',
  topologyBadWeight: 'shardkit.topology.badWeight',
  topologyBadVnodes: 'shardkit.topology.badVnodes',
  topologyUnknownHash: 'shardkit.topology.unknownHash',
  topologyUnknownPlacement: 'shardkit.topology.unknownPlacement',
  topologyUnknownField: 'shardkit.topology.unknownField',
  topologyBadTokens: 'shardkit.topology.badTokens',
  topologyBadId: 'shardkit.topology.badId',
  topologyBadEpoch: 'shardkit.topology.badEpoch',
  configInvalid: 'shardkit.config.invalid',
  configNoState: 'shardkit.config.noState',
  envMissing: 'shardkit.config.envMissing',
  usage: 'shardkit.usage',
  fileNotFound: 'shardkit.file.notFound',
  fileNotWritable: 'shardkit.file.notWritable',
  fileWouldOverwrite: 'shardkit.file.wouldOverwrite',
  optionalDependency: 'shardkit.optionalDependency',
  // misuse of the API
  invalidArgument: 'shardkit.invalidArgument',
  // conflicts
  staleEpoch: 'shardkit.topology.staleEpoch',
  lockHeld: 'shardkit.migration.lockHeld',
  migrationState: 'shardkit.migration.state',
  planMismatch: 'shardkit.migration.planMismatch',
  preflightFailed: 'shardkit.migration.preflight',
  verifyFailed: 'shardkit.migration.verifyFailed',
  journalInvalid: 'shardkit.migration.journalInvalid',
  clockSkew: 'shardkit.migration.clockSkew',
  // runtime
  leaseExpired: 'shardkit.router.leaseExpired',
  keyMoved: 'shardkit.router.keyMoved',
  redirectLimit: 'shardkit.router.redirectLimit',
  storeUnavailable: 'shardkit.store.unavailable',
  storeTimeout: 'shardkit.store.timeout',
  configTimeout: 'shardkit.config.timeout',
  storeDuplicateKey: 'shardkit.store.duplicateKey',
  /** A write would change a matched document's `_id` (the server's ImmutableField, code 66). */
  storeImmutableField: 'shardkit.store.immutableField',
  storeFailure: 'shardkit.store.failure',
  circuitOpen: 'shardkit.store.circuitOpen',
  interrupted: 'shardkit.interrupted',
  migrationAborted: 'shardkit.migration.aborted',
  unhealthy: 'shardkit.health.unhealthy',
  /** `shardkit serve` could not listen on its host and port (in use, not permitted). */
  serveListen: 'shardkit.serve.listen',
  /**
   * A driver option shardkit cannot honour correctly across shards (`collation`, `hint`): refused
   * before anything is sent rather than answered wrongly.
   */
  optionUnsupported: 'shardkit.option.unsupported',
  /** An unacknowledged write concern (`w: 0`): the migration protocol needs every write's outcome. */
  unacknowledgedWrite: 'shardkit.option.unacknowledgedWrite',
  /** An aggregation stage shardkit cannot run correctly over shards (`$out`, `$merge`, `$lookup`, an unknown stage). */
  aggregateUnsupportedStage: 'shardkit.aggregate.unsupportedStage',
  /** A `$group` accumulator whose per-shard partials cannot be merged into the right answer. */
  aggregateUnsupportedAccumulator: 'shardkit.aggregate.unsupportedAccumulator',
  /** A topology's `shardKey` is not a usable field path (ADR 0008). */
  topologyBadShardKey: 'shardkit.topology.badShardKey',
  /** A document to insert (or an upsert's filter) lacks the shard-key value (ADR 0008). */
  shardKeyMissing: 'shardkit.shardKey.missing',
  /** A write would change a document's shard-key value (ADR 0008). */
  shardKeyImmutable: 'shardkit.shardKey.immutable',
  /** A new topology names another shard key than the live one: every document would move (ADR 0008). */
  shardKeyChanged: 'shardkit.shardKey.changed',
} as const;

/** Union of every stable error code. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Options accepted by every shardkit error. */
export interface ShardkitErrorOptions {
  /** The underlying error (a driver error, a syscall error). */
  cause?: unknown;
  /** The shard the failure concerns, when there is one. */
  shardId?: string;
}

/**
 * Base of every error shardkit throws on purpose. The message is redacted on construction: errors
 * quote driver messages, parser output and connection strings, and are printed, logged and chained
 * far from where they were raised, so no later layer has to remember to mask a password.
 */
export class ShardkitError extends Error {
  /** Stable, namespaced code such as `shardkit.topology.duplicateShard`. */
  readonly code: ErrorCode;
  /** The shard concerned, if any. */
  readonly shardId: string | undefined;

  constructor(code: ErrorCode, message: string, options: ShardkitErrorOptions = {}) {
    super(redactText(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.shardId = options.shardId;
  }

  override get name(): string {
    return 'ShardkitError';
  }
}

/** The caller passed something the API does not accept (a programming error). */
export class ShardkitInvalidArgumentError extends ShardkitError {
  constructor(message: string, options?: ShardkitErrorOptions) {
    super(ErrorCode.invalidArgument, message, options);
  }
  override get name(): string {
    return 'ShardkitInvalidArgumentError';
  }
}

/** Input from a user or a file is malformed: a key, a topology, a config file. */
export class ShardkitInputError extends ShardkitError {
  override get name(): string {
    return 'ShardkitInputError';
  }
}

/** A conflict with concurrent actors: stale epoch, lock held, plan no longer matches. */
export class ShardkitConflictError extends ShardkitError {
  override get name(): string {
    return 'ShardkitConflictError';
  }
}

/** A runtime failure talking to a shard or the config store; wraps the driver error as `cause`. */
export class ShardkitStoreError extends ShardkitError {
  override get name(): string {
    return 'ShardkitStoreError';
  }
}

/** The router cannot serve right now (lease expired, redirect loop). */
export class ShardkitRouterError extends ShardkitError {
  override get name(): string {
    return 'ShardkitRouterError';
  }
}

const RETRYABLE: ReadonlySet<string> = new Set<ErrorCode>([
  ErrorCode.leaseExpired,
  ErrorCode.keyMoved,
  ErrorCode.storeUnavailable,
  ErrorCode.storeTimeout,
  ErrorCode.configTimeout,
  ErrorCode.circuitOpen,
  ErrorCode.staleEpoch,
]);

/** True when retrying the same operation later may succeed. */
export function isRetryableError(error: unknown): boolean {
  return error instanceof ShardkitError && RETRYABLE.has(error.code);
}

/** True for errors caused by bad input or misuse: the CLI maps these to exit code 2. */
export function isInputError(error: unknown): boolean {
  return error instanceof ShardkitInputError || error instanceof ShardkitInvalidArgumentError;
}

/** Narrow `unknown` to a ShardkitError with the given code. */
export function hasErrorCode(error: unknown, code: ErrorCode): error is ShardkitError {
  return error instanceof ShardkitError && error.code === code;
}
