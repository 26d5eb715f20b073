import { MongoClient, MongoServerError, type Collection, type Db, type Document, type MongoClientOptions } from 'mongodb';
import { ErrorCode, ShardkitError, ShardkitInvalidArgumentError, ShardkitStoreError } from '../errors.js';
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
import { DEFAULT_MAX_CLOCK_SKEW_MS, assertMaxClockSkew, checkClockSkew, visibleExpiry } from './clock-skew.js';
import { invalidArgument, requireMethods, requireObject, requireString } from '../arguments.js';

/** Default collection of the config documents. */
export const DEFAULT_CONFIG_COLLECTION = 'shardkit_config';

/** Default of {@link MongoConfigStoreOptions.retainStates}: the states of one whole migration. */
export const DEFAULT_RETAIN_STATES = 4;

/** Options shared by {@link MongoConfigStore.connect} and the constructor. */
export interface MongoConfigStoreCommonOptions {
  /** Topology name: one collection holds the state of many topologies, keyed by name. */
  readonly name: string;
  /** Time source of lock leases; their times are `wall()` time, which other processes read. */
  readonly clock?: Clock;
  /**
   * Largest difference (ms) allowed between this host's wall clock and the config server's; default
   * 1000. Taking or renewing the migration lock checks it (`shardkit.migration.clockSkew`), and the
   * lock's expiry other hosts see is `2 x maxClockSkewMs` past the holder's lease (ADR 0007).
   */
  readonly maxClockSkewMs?: number;
  /**
   * Check the clock skew against the server before taking or renewing the lock; default true. Only a
   * test that drives the store with a fake clock against a real server turns it off.
   */
  readonly checkClockSkew?: boolean;
  /**
   * Published states kept as `state:<name>:<epoch>` documents besides the head, newest first;
   * default 4 (a migration publishes three). Nothing reads them to route (the head holds the current
   * state); they are the recent history for operators, and what routers of the previous release read.
   */
  readonly retainStates?: number;
}

/** Options of {@link MongoConfigStore.connect}. */
export interface MongoConfigStoreConnectOptions extends MongoConfigStoreCommonOptions {
  /** MongoDB connection string; its path names the database unless `db` is given. */
  readonly uri: string;
  /** Database; defaults to the URI's path, else `shardkit`. */
  readonly db?: string;
  /** Collection of the config documents; default `shardkit_config`. */
  readonly collection?: string;
  /** Server selection and socket timeout (ms); default 5000. */
  readonly opTimeoutMs?: number;
  /** Extra driver options. */
  readonly clientOptions?: MongoClientOptions;
}

/** Options of the {@link MongoConfigStore} constructor, over a collection the caller owns. */
export interface MongoConfigStoreOptions extends MongoConfigStoreCommonOptions {
  /** Close this client on {@link MongoConfigStore.close}. */
  readonly ownedClient?: MongoClient;
  /**
   * Database to read the server's clock through (`hello`); default the collection's database on
   * `ownedClient`. Needed unless `checkClockSkew` is false.
   */
  readonly db?: Db;
}

/** How long a passing clock-skew check covers renewals of a generation (ms). */
const SKEW_RECHECK_MS = 10_000;

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

/** The current routing state of one topology: the only document a router reads. */
interface HeadDocument {
  _id: string;
  kind: 'head';
  name: string;
  epoch: number;
  state: RoutingState;
  /** Epochs of the retained `state:` documents, oldest first; the prune floor is the first. */
  kept: number[];
}

/** A retained published state (and the layout of the first release, whose `_id` ends in `:after:<e>`). */
interface StateDocument {
  _id: string;
  kind: 'state';
  name: string;
  epoch: number;
  state: RoutingState;
}

/** The migration lock and the counter of its generations, in one document that is never deleted. */
interface LockDocument {
  _id: string;
  kind: 'lock';
  name: string;
  /** The last generation issued; grows by one per acquisition, never goes back. */
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

/** The one index the store queries by besides `_id`: pruning retained states (and the first release's layout). */
const STATE_INDEX = { key: { name: 1, kind: 1, epoch: 1 }, name: 'shardkit_config_name_kind_epoch' } as const;

/**
 * A config store in a MongoDB collection (works on FerretDB: no transactions, no change streams).
 * Bounded: per topology `name` it holds at most `4 + retainStates` documents however many migrations
 * ran (ADR 0007):
 * - `{_id: 'head:<name>', kind: 'head', epoch, state, kept}`: the current routing state. A router's
 *   refresh is one read of it by `_id`; a compare-and-set from `e` is one update conditioned on
 *   `epoch: e` (an insert for the first state), which MongoDB applies atomically, so exactly one of
 *   racing publishers wins.
 * - `{_id: 'state:<name>:<epoch>', kind: 'state', epoch, state}`: the last `retainStates` states,
 *   written after the head and pruned below the oldest the head's `kept` names.
 * - `{_id: 'lock:<name>', kind: 'lock', gen, owner, acquiredAt, expiresAt}`: the migration lock and the
 *   counter of its generations. A takeover is one update conditioned on the `gen` and `expiresAt` it
 *   read; a renewal or release on the holder's `gen` and `owner`. The document is never deleted, so a
 *   generation (the fencing token) is never issued twice.
 * - `{_id: 'journal:<name>:<key>', value, gen}`: migration checkpoints (two keys per topology),
 *   written by the lock holder only and fenced by its lock generation `gen` (ADR 0003).
 *
 * The decisions rest on atomic single-document conditional updates: MongoDB's, and the test servers'
 * patched FerretDB (ADR 0005). The first release's documents (`state:<name>:after:<e>`,
 * `lock:<name>:<gen>`) are adopted on first use, so an upgraded store keeps its epoch and its
 * generation count.
 *
 * Lease times come from the client's clock: taking or renewing the lock checks it against the
 * server's (`maxClockSkewMs`), and the expiry other hosts read carries a margin of twice that.
 */
export class MongoConfigStore implements ConfigStore {
  /** Topology name the documents are keyed by. */
  readonly name: string;
  readonly #collection: Collection<Document>;
  readonly #clock: Clock;
  readonly #ownedClient: MongoClient | undefined;
  readonly #db: Db | undefined;
  readonly #maxClockSkewMs: number;
  readonly #checkClockSkew: boolean;
  readonly #retainStates: number;
  /** Monotonic time of the last clock-skew check that passed; null before one or after one failed. */
  #skewCheckedAt: number | null = null;
  /** Set once the first release's layout was looked for and adopted (or found absent). */
  #legacyState = false;
  #legacyLock = false;

  constructor(collection: Collection<Document>, options: MongoConfigStoreOptions) {
    requireMethods(collection, 'new MongoConfigStore(collection, options): collection', "a driver Collection (or use MongoConfigStore.connect)", ['findOne', 'updateOne']);
    requireObject(options, 'new MongoConfigStore(collection, options): options', 'an object with the topology name');
    requireString(options.name, 'new MongoConfigStore: options.name (the topology name)');
    const maxClockSkewMs = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
    assertMaxClockSkew(maxClockSkewMs);
    const retainStates = options.retainStates ?? DEFAULT_RETAIN_STATES;
    if (!Number.isSafeInteger(retainStates) || retainStates < 0) throw invalidArgument('new MongoConfigStore: options.retainStates', 'an integer >= 0', retainStates);
    this.name = options.name;
    this.#collection = collection;
    this.#clock = options.clock ?? systemClock;
    this.#ownedClient = options.ownedClient;
    this.#db = options.db ?? options.ownedClient?.db(collection.dbName);
    this.#maxClockSkewMs = maxClockSkewMs;
    this.#checkClockSkew = options.checkClockSkew ?? true;
    this.#retainStates = retainStates;
    if (this.#checkClockSkew && this.#db === undefined) {
      throw new ShardkitInvalidArgumentError('MongoConfigStore needs `db` (or `ownedClient`) to check the clock skew, or `checkClockSkew: false`');
    }
  }

  /** Connect to `uri`, create the store's index and open the store; {@link close} closes the client. */
  static async connect(options: MongoConfigStoreConnectOptions): Promise<MongoConfigStore> {
    requireObject(options, 'MongoConfigStore.connect(options): options', 'an object with uri and name');
    requireString(options.uri, 'MongoConfigStore.connect: options.uri');
    requireString(options.name, 'MongoConfigStore.connect: options.name (the topology name)');
    const timeout = options.opTimeoutMs ?? 5000;
    const client = new MongoClient(options.uri, {
      serverSelectionTimeoutMS: timeout,
      connectTimeoutMS: timeout,
      socketTimeoutMS: timeout * 2,
      ...options.clientOptions,
    });
    const db = client.db(options.db ?? databaseFromUri(options.uri) ?? 'shardkit');
    const collection = db.collection(options.collection ?? DEFAULT_CONFIG_COLLECTION);
    const { uri: _uri, db: _db, collection: _collection, opTimeoutMs: _timeout, clientOptions: _client, ...common } = options;
    // Built before connecting: a bad option is the caller's misuse (`shardkit.invalidArgument`), not a store failure.
    const store = new MongoConfigStore(collection, { ...common, ownedClient: client, db });
    try {
      await client.connect();
      await store.ensureIndexes();
      return store;
    } catch (error) {
      await client.close().catch(() => undefined);
      throw wrap(error, 'connect to the config store');
    }
  }

  /** Create the index the store prunes by (idempotent; {@link connect} calls it). */
  async ensureIndexes(): Promise<void> {
    await this.#call('create the config store index', () => this.#collection.createIndexes([STATE_INDEX]));
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
    const kept = [...(head?.kept ?? []), next.epoch].slice(-Math.max(1, this.#retainStates));
    const won = await this.#call('publish the routing state', () => this.#swapHead(head, next, kept));
    if (!won) throw staleEpochError(expectedEpoch, (await this.#head())?.epoch ?? null);
    await this.#retain(next, kept);
  }

  /** The compare-and-set itself: true when this call moved the head from `head` to `next`. */
  async #swapHead(head: HeadDocument | null, next: RoutingState, kept: number[]): Promise<boolean> {
    const fields = { kind: 'head' as const, name: this.name, epoch: next.epoch, state: next, kept };
    if (head !== null) {
      const swapped = await this.#heads().updateOne({ _id: head._id, epoch: head.epoch }, { $set: fields });
      return swapped.matchedCount === 1;
    }
    try {
      await this.#heads().insertOne({ _id: this.#headId(), ...fields });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  /**
   * Keep `next` as a retained state and drop those below the oldest `kept` epoch (the first release's
   * chain documents included). The publish already took effect, so a failure here is not reported
   * as the publish failing: a missing history entry misleads nobody, and the next publish prunes what
   * this one left.
   */
  async #retain(next: RoutingState, kept: number[]): Promise<void> {
    const filter = { kind: 'state' as const, name: this.name };
    try {
      if (this.#retainStates === 0) {
        await this.#states().deleteMany(filter);
        return;
      }
      await this.#states().replaceOne(
        { _id: `state:${this.name}:${next.epoch}` },
        { kind: 'state', name: this.name, epoch: next.epoch, state: next },
        { upsert: true },
      );
      await this.#states().deleteMany({ ...filter, epoch: { $lt: kept[0] as number } });
    } catch {
      // See above: best effort by design.
    }
  }

  async acquireLock(owner: string, leaseMs: number, generation?: number): Promise<LockInfo> {
    assertLockArguments(owner, leaseMs);
    await this.#assertClockSkew(generation === undefined);
    const now = this.#clock.wall();
    const expiresAt = visibleExpiry(now, leaseMs, this.#maxClockSkewMs);
    const current = await this.#lockDocument();
    if (generation !== undefined) return this.#renewGeneration(current, owner, generation, expiresAt);
    if (current !== null && current.expiresAt > now) {
      if (current.owner !== owner) throw lockHeldError(toLockInfo(current));
      const renewed = await this.#call('renew the migration lock', () =>
        this.#locks().updateOne({ _id: current._id, gen: current.gen, owner }, { $set: { expiresAt } }),
      );
      if (renewed.matchedCount === 1) return { owner, acquiredAt: current.acquiredAt, expiresAt, generation: current.gen };
    } else if (await this.#takeLock(current, { owner, acquiredAt: now, expiresAt })) {
      return { owner, acquiredAt: now, expiresAt, generation: (current?.gen ?? 0) + 1 };
    }
    const winner = await this.#lockDocument();
    throw lockHeldError(winner === null ? { owner: '(unknown)', acquiredAt: now, expiresAt: now, generation: 0 } : toLockInfo(winner));
  }

  /**
   * Take a free or lapsed lock as the next generation: conditioned on the generation and expiry read,
   * so of racing takers exactly one wins, and a renewal that landed in between makes the take fail.
   */
  async #takeLock(current: LockDocument | null, holder: Pick<LockDocument, 'owner' | 'acquiredAt' | 'expiresAt'>): Promise<boolean> {
    const gen = (current?.gen ?? 0) + 1;
    const fields = { kind: 'lock' as const, name: this.name, gen, ...holder };
    if (current !== null) {
      const taken = await this.#call('take the migration lock', () =>
        this.#locks().updateOne({ _id: current._id, gen: current.gen, expiresAt: current.expiresAt }, { $set: fields }),
      );
      return taken.matchedCount === 1;
    }
    try {
      await this.#locks().insertOne({ _id: this.#lockId(), ...fields });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw wrap(error, 'take the migration lock');
    }
  }

  /** Renew exactly `generation`: refused once a later generation exists. */
  async #renewGeneration(current: LockDocument | null, owner: string, generation: number, expiresAt: number): Promise<LockInfo> {
    if (current === null || current.gen !== generation || current.owner !== owner) throw lockLostError(generation, current?.gen ?? null);
    const renewed = await this.#call('renew the migration lock', () =>
      this.#locks().updateOne({ _id: current._id, owner, gen: generation }, { $set: { expiresAt } }),
    );
    if (renewed.matchedCount !== 1) throw lockLostError(generation, null);
    return { owner, acquiredAt: current.acquiredAt, expiresAt, generation };
  }

  async releaseLock(owner: string): Promise<void> {
    const current = await this.#lockDocument();
    if (current === null || current.owner !== owner) return;
    // The document stays: its `gen` is the counter the next generation is taken from.
    await this.#call('release the migration lock', () =>
      this.#locks().updateOne({ _id: current._id, gen: current.gen, owner }, { $set: { expiresAt: 0 } }),
    );
  }

  async readLock(): Promise<LockInfo | null> {
    const current = await this.#lockDocument();
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
    const latest = await this.#lockDocument();
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

  /**
   * Refuse to take or renew the lock from a host whose clock is not shown within the allowance. A
   * take always reads the server's clock; a renewal of a generation only once the last reading that
   * passed is {@link SKEW_RECHECK_MS} old, so a short lease renewed every third of it does not pay a
   * third round trip each time (clocks drift by far less than the allowance in that time).
   */
  async #assertClockSkew(take: boolean): Promise<void> {
    const db = this.#db;
    if (!this.#checkClockSkew || db === undefined) return;
    if (!take && this.#skewCheckedAt !== null && this.#clock.now() - this.#skewCheckedAt < SKEW_RECHECK_MS) return;
    const started = this.#clock.now();
    this.#skewCheckedAt = null;
    await checkClockSkew(this.#clock, this.#maxClockSkewMs, async () => {
      const reply = await this.#call("read the config server's clock", () => db.command({ hello: 1 }));
      const time = reply['localTime'] as unknown;
      if (!(time instanceof Date)) throw new ShardkitStoreError(ErrorCode.storeFailure, "config store: the server's hello reply has no localTime to check the clock skew against");
      return time.getTime();
    });
    this.#skewCheckedAt = started;
  }

  /** The head: one read by `_id`. */
  async #head(): Promise<HeadDocument | null> {
    const head = await this.#call('load the routing state', () => this.#heads().findOne({ _id: this.#headId() }));
    if (head !== null || this.#legacyState) return head;
    return this.#adoptLegacyState();
  }

  /**
   * A store written by the first release has no head: its state is the highest epoch of the
   * `state:<name>:after:<e>` chain. Install that as the head once (a racing adopter's insert fails on
   * the `_id` and both read the same head), so later reads are the one read by `_id`.
   */
  async #adoptLegacyState(): Promise<HeadDocument | null> {
    const legacy = await this.#call('load the routing state', () =>
      this.#states().findOne({ kind: 'state', name: this.name }, { sort: { epoch: -1 } }),
    );
    if (legacy !== null) {
      const head: HeadDocument = { _id: this.#headId(), kind: 'head', name: this.name, epoch: legacy.epoch, state: legacy.state, kept: [legacy.epoch] };
      await this.#heads().insertOne(head).catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw wrap(error, 'adopt the routing state of the first release');
      });
    }
    this.#legacyState = true;
    return this.#call('load the routing state', () => this.#heads().findOne({ _id: this.#headId() }));
  }

  /** The lock document: one read by `_id`. */
  async #lockDocument(): Promise<LockDocument | null> {
    const lock = await this.#call('read the migration lock', () => this.#locks().findOne({ _id: this.#lockId() }));
    if (lock !== null || this.#legacyLock) return lock;
    return this.#adoptLegacyLock();
  }

  /**
   * The first release kept one `lock:<name>:<gen>` document per generation. Carry the latest over as
   * the one lock document (its generation count included, so no token is issued twice), then delete
   * the old ones.
   */
  async #adoptLegacyLock(): Promise<LockDocument | null> {
    const id = this.#lockId();
    const legacy = await this.#call('read the migration lock', () =>
      this.#locks().findOne({ kind: 'lock', name: this.name, _id: { $ne: id } }, { sort: { gen: -1 } }),
    );
    if (legacy !== null) {
      await this.#locks().insertOne({ ...legacy, _id: id }).catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw wrap(error, 'adopt the migration lock of the first release');
      });
      await this.#call('prune the first release\'s lock documents', () =>
        this.#locks().deleteMany({ kind: 'lock', name: this.name, _id: { $ne: id } }),
      );
    }
    this.#legacyLock = true;
    return this.#call('read the migration lock', () => this.#locks().findOne({ _id: id }));
  }

  #headId(): string {
    return `head:${this.name}`;
  }

  #lockId(): string {
    return `lock:${this.name}`;
  }

  #journalId(key: string): string {
    return `journal:${this.name}:${key}`;
  }

  #heads(): Collection<HeadDocument> {
    return this.#collection as unknown as Collection<HeadDocument>;
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
