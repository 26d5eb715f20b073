/**
 * The options of one `MongoStore` request: the call's deadline (its signal, and the time left as
 * `maxTimeMS`, ADR 0003 "The bound") and the driver options the application set on the call
 * (`driver-options.ts`), applied by the request's role:
 * - `read`: the application's read (a `get`, `find`, count): read preference, read concern, comment;
 * - `write`: the application's own write: its write concern (the driver's per-operation override of
 *   the collection's), comment;
 * - `marker`: a write of the migration protocol (fence, placeholder, tombstone, a copy to the new owner,
 *   a relic's removal): never a weaker write concern than the store's own (the protocol's markers must
 *   be as durable as the deployment was set up for, whatever one application call asked), comment;
 * - `internal`: anything else, such as the read a write makes to decide (its version, its fence): the
 *   primary and the store's read concern, so a decision never rests on a lagging secondary; comment.
 */
import { WriteConcern } from 'mongodb';
import type { W } from 'mongodb';
import { currentDeadline, deadlineError, remainingMs, type Deadline } from './deadline.js';
import { currentDriverOptions, type DriverCallOptions } from './driver-options.js';

/** What a request does for the call it belongs to (see the file's comment). */
export type RequestRole = 'read' | 'write' | 'marker' | 'internal';

/** Timing and driver options every request carries. */
export interface RequestOptions {
  maxTimeMS: number;
  signal?: AbortSignal;
  comment?: unknown;
}

/**
 * The options of one request: `extra` (the request's own), the call's signal, the time it has left as
 * `maxTimeMS` (at most `maxTimeMS`), and the application's driver options for `role`. A request whose
 * call is past its deadline is not sent (`shardkit.store.timeout`). The call's deadline and driver
 * options are `call`'s when given (a {@link RequestScope}), else those in force here.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export function requestOptions<T extends object = {}>(
  shardId: string,
  maxTimeMS: number,
  role: RequestRole,
  storeWriteConcern: WriteConcern | undefined,
  extra?: T,
  call?: { readonly deadline: Deadline | undefined; readonly driver: DriverCallOptions | undefined },
): T & RequestOptions {
  const deadline = call === undefined ? currentDeadline() : call.deadline;
  const driver = call === undefined ? currentDriverOptions() : call.driver;
  // The deadline's fields first, into a literal of one shape, then the request's own: it runs for every
  // request (a spread into an empty object, then two added fields, cost more than the request's check).
  let out: Record<string, unknown>;
  if (deadline === undefined) {
    out = { maxTimeMS };
  } else {
    const left = Math.floor(remainingMs(deadline));
    if (left <= 0 || deadline.signal?.aborted === true) throw deadlineError(shardId, 'request', 'its deadline passed before it was sent');
    // The driver (6.22) uses a request's signal only as far as AbortLike goes (deadline-signal.ts).
    out = deadline.signal === undefined ? { maxTimeMS: Math.min(left, maxTimeMS) } : { maxTimeMS: Math.min(left, maxTimeMS), signal: deadline.signal };
  }
  if (extra !== undefined) Object.assign(out, extra);
  if (driver !== undefined) addDriverFields(out, role, driver, storeWriteConcern);
  return out as T & RequestOptions;
}

/**
 * One store call's requests: its deadline and the application's driver options, taken when the call
 * began (`deadline.ts`: a store reads them before its first `await`), and the options of each request
 * it sends by the request's role. Passed down explicitly, so no request depends on an async context.
 */
export class RequestScope {
  readonly shardId: string;
  readonly deadline: Deadline;
  readonly driver: DriverCallOptions | undefined;
  readonly #maxTimeMS: number;
  readonly #storeWriteConcern: WriteConcern | undefined;

  constructor(shardId: string, maxTimeMS: number, deadline: Deadline, driver: DriverCallOptions | undefined, storeWriteConcern: WriteConcern | undefined) {
    this.shardId = shardId;
    this.deadline = deadline;
    this.driver = driver;
    this.#maxTimeMS = maxTimeMS;
    this.#storeWriteConcern = storeWriteConcern;
  }

  /** A request that reads for the application (its read preference and read concern apply). */
  read<T extends object = object>(extra?: T): T & RequestOptions {
    return requestOptions(this.shardId, this.#maxTimeMS, 'read', undefined, extra, this);
  }

  /** The application's own write (its write concern applies). */
  write<T extends object = object>(extra?: T): T & RequestOptions {
    return requestOptions(this.shardId, this.#maxTimeMS, 'write', undefined, extra, this);
  }

  /** A migration-protocol write: never a weaker write concern than the store's own. */
  marker<T extends object = object>(extra?: T): T & RequestOptions {
    return requestOptions(this.shardId, this.#maxTimeMS, 'marker', this.#storeWriteConcern, extra, this);
  }

  /** A request for nothing but the call's own bookkeeping (`internal`: the primary, the store's read concern). */
  internal<T extends object = object>(extra?: T): T & RequestOptions {
    return requestOptions(this.shardId, this.#maxTimeMS, 'internal', undefined, extra, this);
  }
}

function addDriverFields(out: Record<string, unknown>, role: RequestRole, driver: DriverCallOptions, storeWriteConcern: WriteConcern | undefined): void {
  if (driver.comment !== undefined) out['comment'] = driver.comment;
  if (role === 'read' && driver.kind === 'read') {
    if (driver.readPreference !== undefined) out['readPreference'] = driver.readPreference;
    if (driver.readConcern !== undefined) out['readConcern'] = driver.readConcern;
  } else if (role === 'write' && driver.writeConcern !== undefined) {
    out['writeConcern'] = driver.writeConcern;
  } else if (role === 'marker' && driver.writeConcern !== undefined) {
    out['writeConcern'] = strongerWriteConcern(storeWriteConcern, driver.writeConcern);
  }
}

/** `w` as a number of members when it is one (absent: the server's default, one member). */
function members(w: W | undefined): number | undefined {
  if (w === undefined) return 1;
  return typeof w === 'number' ? w : undefined;
}

/**
 * A write concern at least as strong as `base` (the store's own, from its connection string or client)
 * and as `requested` (an application's, always acknowledged): the larger member count, `majority` over
 * a count of one, a journal when either asks for one, and `base`'s own `wtimeoutMS` when it has one.
 * Where the two `w`s cannot be ordered (a tag set, `majority` against a count above one), `base`'s
 * stands: an application can strengthen the protocol's markers, never weaken them.
 */
export function strongerWriteConcern(base: WriteConcern | undefined, requested: WriteConcern): WriteConcern {
  if (base === undefined) return requested;
  const a = members(base.w);
  const b = members(requested.w);
  let w: W | undefined = base.w;
  if (a !== undefined && b !== undefined) w = Math.max(a, b);
  else if (requested.w === 'majority' && a !== undefined && a <= 1) w = 'majority';
  const journal = base.journal === true || requested.journal === true;
  const wtimeoutMS = base.wtimeoutMS ?? requested.wtimeoutMS;
  return WriteConcern.fromOptions({
    writeConcern: { ...(w === undefined ? {} : { w }), ...(journal ? { journal } : {}), ...(wtimeoutMS === undefined ? {} : { wtimeoutMS }) },
  }) as WriteConcern;
}
