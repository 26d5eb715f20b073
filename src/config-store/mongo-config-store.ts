import { MongoClient, MongoServerError, type Collection, type Document, type MongoClientOptions } from 'mongodb';
import { ErrorCode, ShardkitError, ShardkitStoreError } from '../errors.js';
import type { ConfigStore, LockInfo } from './types.js';
import type { RoutingState } from '../router/routing-state.js';
import {
  assertCasArguments,
  assertJournalKey,
  assertJournalValue,
  assertLockArguments,
  lockHeldError,
  lockLostError,
  staleEpochError,
} from './state.js';
import { systemClock, type Clock } from '../clock.js';

/** Default collection of the config documents. */
export const DEFAULT_CONFIG_COLLECTION = 'shardkit_config';

/** Options of {@link MongoConfigStore.connect}. */
export interface MongoConfigStoreConnectOptions {
  /** MongoDB connection string; its path names the database unless `db` is given. */
  readonly uri: string;
  /** Database; defaults to the URI's path, else `shardkit`. */
  readonly db?: string;
  /** Collection of the config documents; default `shardkit_config`. */
  readonly collection?: string;
  /** Topology name: one collection holds the state of many topologies, keyed by name. */
  readonly name: string;
  /** Time source of lock leases; their times are `wall()` time, which other processes read. */
  readonly clock?: Clock;
  /** Server selection and socket timeout (ms); default 5000. */
  readonly opTimeoutMs?: number;
  /** Extra driver options. */
  readonly clientOptions?: MongoClientOptions;
}

/** Options of the {@link MongoConfigStore} constructor, over a collection the caller owns. */
export interface MongoConfigStoreOptions {
  /** Topology name. */
  readonly name: string;
  /** Time source of lock leases; their times are `wall()` time, which other processes read. */
  readonly clock?: Clock;
  /** Close this client on {@link MongoConfigStore.close}. */
  readonly ownedClient?: MongoClient;
}

const DUPLICATE_KEY = 11000;

function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

/** Database named by a connection string's path, if any. */
export function databaseFromUri(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]*)/.exec(uri);
  const name = match?.[1] === undefined ? '' : decodeURIComponent(match[1]);
  return name === '' ? undefined : name;
}

interface StateDocument {
  _id: string;
  kind: 'state';
  name: string;
  /** Epoch this state replaced (0: none); `_id` is unique per predecessor. */
  after: number;
  epoch: number;
  state: RoutingState;
}

interface LockDocument {
  _id: string;
  kind: 'lock';
  name: string;
  /** Generation: one document per acquisition, unique per generation. */
  gen: number;
  owner: string;
  acquiredAt: number;
  expiresAt: number;
}

interface JournalDocument {
  _id: string;
  value: Record<string, unknown>;
  /** Lock generation of the writer (absent for entries written without one, and by the first release). */
  gen?: number;
}

/**
 * A config store in a MongoDB collection (works on FerretDB: no transactions, no change streams).
 *
 * Every decision between racing writers is made by a unique `_id` insert, the one write whose
 * atomicity FerretDB's SQLite backend guarantees: measured on FerretDB 1.24, 8 concurrent
 * `updateOne({_id, epoch: 1}, {$set: {epoch: 2}})` reported more than one winner in 16 of 20 rounds,
 * while 8 concurrent inserts of one `_id` always had exactly one. Documents, per topology `name`:
 * - `{_id: 'state:<name>:after:<e>', kind: 'state', name, after: e, epoch, state}`: the state that
 *   replaced epoch `e` (`e` = 0 for the first). A compare-and-set from `e` is that insert, so only one
 *   transition out of any epoch can ever exist; the states form one chain and the current one is the
 *   highest epoch.
 * - `{_id: 'lock:<name>:<gen>', kind: 'lock', name, gen, owner, acquiredAt, expiresAt}`: one per
 *   acquisition. Taking a free or expired lock inserts generation `gen + 1`; the holder renews or
 *   releases by updating its own generation, which nobody else writes while its lease runs.
 * - `{_id: 'journal:<name>:<key>', value, gen}`: migration checkpoints, written by the lock holder only
 *   and fenced by its lock generation `gen` (ADR 0003): an entry of a later generation is never replaced.
 *
 * Lease times come from the client's clock, so hosts running migrators should keep clocks in sync
 * to well within a lease.
 */
export class MongoConfigStore implements ConfigStore {
  /** Topology name the documents are keyed by. */
  readonly name: string;
  readonly #collection: Collection<Document>;
  readonly #clock: Clock;
  readonly #ownedClient: MongoClient | undefined;

  constructor(collection: Collection<Document>, options: MongoConfigStoreOptions) {
    if (typeof options.name !== 'string' || options.name === '') throw new TypeError('MongoConfigStore needs a topology name');
    this.name = options.name;
    this.#collection = collection;
    this.#clock = options.clock ?? systemClock;
    this.#ownedClient = options.ownedClient;
  }

  /** Connect to `uri` and open the store; {@link close} closes the client. */
  static async connect(options: MongoConfigStoreConnectOptions): Promise<MongoConfigStore> {
    const timeout = options.opTimeoutMs ?? 5000;
    const client = new MongoClient(options.uri, {
      serverSelectionTimeoutMS: timeout,
      connectTimeoutMS: timeout,
      socketTimeoutMS: timeout * 2,
      ...options.clientOptions,
    });
    try {
      await client.connect();
    } catch (error) {
      await client.close().catch(() => undefined);
      throw wrap(error, 'connect to the config store');
    }
    const db = client.db(options.db ?? databaseFromUri(options.uri) ?? 'shardkit');
    const collection = db.collection(options.collection ?? DEFAULT_CONFIG_COLLECTION);
    return new MongoConfigStore(collection, {
      name: options.name,
      ownedClient: client,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
  }

  async load(): Promise<RoutingState | null> {
    const head = await this.#head();
    return head === null ? null : head.state;
  }

  async compareAndSet(expectedEpoch: number | null, next: RoutingState): Promise<void> {
    assertCasArguments(expectedEpoch, next);
    const head = await this.#head();
    const actual = head?.epoch ?? null;
    if (actual !== expectedEpoch) throw staleEpochError(expectedEpoch, actual);
    // Whoever saw `expectedEpoch` as the head competes for the one successor slot of that epoch.
    const after = expectedEpoch ?? 0;
    try {
      await this.#states().insertOne({
        _id: `state:${this.name}:after:${after}`,
        kind: 'state',
        name: this.name,
        after,
        epoch: next.epoch,
        state: next,
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw wrap(error, 'publish the routing state');
      const winner = await this.#head();
      throw staleEpochError(expectedEpoch, winner?.epoch ?? null);
    }
  }

  async acquireLock(owner: string, leaseMs: number, generation?: number): Promise<LockInfo> {
    assertLockArguments(owner, leaseMs);
    const now = this.#clock.wall();
    const expiresAt = now + leaseMs;
    const current = await this.#latestLock();
    if (generation !== undefined) return this.#renewGeneration(current, owner, generation, expiresAt);
    if (current !== null && current.expiresAt > now) {
      if (current.owner !== owner) throw lockHeldError(toLockInfo(current));
      const renewed = await this.#call('renew the migration lock', () =>
        this.#locks().updateOne({ _id: current._id, owner }, { $set: { expiresAt } }),
      );
      if (renewed.matchedCount === 1) return { owner, acquiredAt: current.acquiredAt, expiresAt, generation: current.gen };
    }
    const gen = (current?.gen ?? 0) + 1;
    try {
      await this.#locks().insertOne({
        _id: `lock:${this.name}:${gen}`,
        kind: 'lock',
        name: this.name,
        gen,
        owner,
        acquiredAt: now,
        expiresAt,
      });
      return { owner, acquiredAt: now, expiresAt, generation: gen };
    } catch (error) {
      if (!isDuplicateKey(error)) throw wrap(error, 'take the migration lock');
    }
    const winner = await this.#latestLock();
    throw lockHeldError(winner === null ? { owner: '(unknown)', acquiredAt: now, expiresAt: now, generation: gen } : toLockInfo(winner));
  }

  /** Renew exactly `generation`: refused once a later generation exists (the holder's document is its own). */
  async #renewGeneration(current: LockDocument | null, owner: string, generation: number, expiresAt: number): Promise<LockInfo> {
    if (current === null || current.gen !== generation || current.owner !== owner) throw lockLostError(generation, current?.gen ?? null);
    const renewed = await this.#call('renew the migration lock', () =>
      this.#locks().updateOne({ _id: current._id, owner, gen: generation }, { $set: { expiresAt } }),
    );
    if (renewed.matchedCount !== 1) throw lockLostError(generation, null);
    return { owner, acquiredAt: current.acquiredAt, expiresAt, generation };
  }

  async releaseLock(owner: string): Promise<void> {
    const current = await this.#latestLock();
    if (current === null || current.owner !== owner) return;
    await this.#call('release the migration lock', () =>
      this.#locks().updateOne({ _id: current._id, owner }, { $set: { expiresAt: 0 } }),
    );
  }

  async readLock(): Promise<LockInfo | null> {
    const current = await this.#latestLock();
    return current !== null && current.expiresAt > this.#clock.wall() ? toLockInfo(current) : null;
  }

  async readJournal(key: string): Promise<Record<string, unknown> | null> {
    assertJournalKey(key);
    const doc = await this.#call('read the migration journal', () => this.#journal().findOne({ _id: this.#journalId(key) }));
    return doc === null ? null : doc.value;
  }

  async writeJournal(key: string, value: Record<string, unknown>, generation?: number): Promise<void> {
    assertJournalKey(key);
    assertJournalValue(value);
    const _id = this.#journalId(key);
    if (generation === undefined) {
      await this.#call('write the migration journal', () => this.#journal().replaceOne({ _id }, { value }, { upsert: true }));
      return;
    }
    // Two fences, since no transaction ties the lock to the journal: the latest generation must be
    // ours now, and the write replaces only an entry of ours or older, atomically (an entry of a later
    // generation fails the filter, and the upsert's insert then fails on the `_id`).
    const latest = await this.#latestLock();
    if ((latest?.gen ?? 0) !== generation) throw lockLostError(generation, latest?.gen ?? 0);
    try {
      await this.#journal().replaceOne(
        { _id, $or: [{ gen: { $exists: false } }, { gen: { $lte: generation } }] },
        { value, gen: generation },
        { upsert: true },
      );
    } catch (error) {
      if (isDuplicateKey(error)) throw lockLostError(generation, null);
      throw wrap(error, 'write the migration journal');
    }
  }

  async close(): Promise<void> {
    await this.#ownedClient?.close();
  }

  #head(): Promise<StateDocument | null> {
    return this.#call('load the routing state', () =>
      this.#states().findOne({ kind: 'state', name: this.name }, { sort: { epoch: -1 } }),
    );
  }

  #latestLock(): Promise<LockDocument | null> {
    return this.#call('read the migration lock', () =>
      this.#locks().findOne({ kind: 'lock', name: this.name }, { sort: { gen: -1 } }),
    );
  }

  #journalId(key: string): string {
    return `journal:${this.name}:${key}`;
  }

  #states(): Collection<StateDocument> {
    return this.#collection as unknown as Collection<StateDocument>;
  }

  #locks(): Collection<LockDocument> {
    return this.#collection as unknown as Collection<LockDocument>;
  }

  #journal(): Collection<JournalDocument> {
    return this.#collection as unknown as Collection<JournalDocument>;
  }

  async #call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw wrap(error, what);
    }
  }
}

function toLockInfo(doc: LockDocument): LockInfo {
  return { owner: doc.owner, acquiredAt: doc.acquiredAt, expiresAt: doc.expiresAt, generation: doc.gen };
}

/** Driver errors become store errors; a network failure or timeout is marked retryable. */
function wrap(error: unknown, what: string): ShardkitError {
  if (error instanceof ShardkitError) return error;
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  const code = /Timeout/i.test(name)
    ? ErrorCode.storeTimeout
    : /Network|ServerSelection|PoolClosed|Topology/i.test(name)
      ? ErrorCode.storeUnavailable
      : ErrorCode.storeFailure;
  return new ShardkitStoreError(code, `config store: cannot ${what}: ${message}`, { cause: error });
}
