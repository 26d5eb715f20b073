/**
 * The driver options an application set on one collection call (read preference, read and write
 * concern, `comment`), carried to the stores in the call's async context, as `deadline.ts` carries an
 * application's `maxTimeMS`. The collection sets them around the call (`withDriverOptions`); a store
 * that talks to a server reads them (`currentDriverOptions`) as a call begins. Why a context and not a
 * parameter: every contract method, every decorator and every part of the data path between the two
 * then carries them unchanged, and a store call made on the call's behalf inherits them. Only a call
 * given options enters it: Node 20 runs a hook for every promise once one was entered (ADR 0003,
 * "Carrying the deadline").
 *
 * What a store does with them is decided by the role of each request (`mongo-request-options.ts`):
 * the application's own reads and writes take them as given, the migration protocol's markers never
 * get a weaker write concern than the store's own (ADR 0003), and reads a write makes to decide
 * something read the primary.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ReadConcernLike, ReadPreferenceLike, WriteConcern } from 'mongodb';

/** Driver options of one application call, checked by the collection before anything was sent. */
export interface DriverCallOptions {
  /** Whether the call reads or writes: a read preference never applies to a write's reads. */
  readonly kind: 'read' | 'write';
  /** Where reads go (`secondaryPreferred`, tags…); reads only. */
  readonly readPreference?: ReadPreferenceLike;
  /** The read concern of reads; reads only. */
  readonly readConcern?: ReadConcernLike;
  /** The application's write concern (always acknowledged: `w: 0` is refused); writes only. */
  readonly writeConcern?: WriteConcern;
  /** Sent with every request of the call, so server logs and profilers can find it. */
  readonly comment?: unknown;
}

const scope = new AsyncLocalStorage<DriverCallOptions>();

/** Run `fn` with every store call it makes carrying `options`. */
export function withDriverOptions<T>(options: DriverCallOptions, fn: () => Promise<T>): Promise<T> {
  return scope.run(options, fn);
}

/** The driver options of the application call running here, if it set any. */
export function currentDriverOptions(): DriverCallOptions | undefined {
  return scope.getStore();
}
