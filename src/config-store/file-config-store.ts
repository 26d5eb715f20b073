import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, readFile, rename, stat, unlink, link } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BSON } from 'mongodb';

const { EJSON } = BSON;
import { ErrorCode, ShardkitStoreError } from '../errors.js';
import type { ConfigStore, LockInfo } from './types.js';
import type { RoutingState } from '../router/routing-state.js';
import {
  assertCasArguments,
  assertJournalKey,
  assertJournalValue,
  assertLockArguments,
  cloneValue,
  assertLatestGeneration,
  nextLock,
  staleEpochError,
} from './state.js';
import { systemClock, type Clock } from '../clock.js';
import { invalidArgument, optionalObject, requireString } from '../arguments.js';

/** Format tag written into every state file, so a future layout can be told apart. */
export const FILE_FORMAT = 'shardkit.config-store/1';

/** Options of {@link FileConfigStore}. */
export interface FileConfigStoreOptions {
  /** Time source of lock leases; their times are `wall()` time, which other processes read. */
  readonly clock?: Clock;
  /**
   * How long to wait for another process's short write section (ms) before failing with
   * `shardkit.store.timeout`. Default 5000.
   */
  readonly mutexWaitMs?: number;
  /**
   * A mutex file older than this (ms) is taken to be left by a crashed writer and is broken.
   * Writers hold it for one read-modify-write, so this only has to exceed a slow fsync. Default 10000.
   */
  readonly mutexStaleMs?: number;
}

/** The document the state file holds. */
interface FileDocument {
  format: string;
  state: RoutingState | null;
  lock: LockInfo | null;
  /** The last lock generation issued (kept when the lock is released; absent in older files: 0). */
  lockGeneration: number;
  journal: Record<string, Record<string, unknown>>;
}

/** What a mutex file says about its holder. */
interface MutexOwner {
  pid: number;
  host: string;
  token: string;
  at: number;
}

function emptyDocument(): FileDocument {
  return { format: FILE_FORMAT, state: null, lock: null, lockGeneration: 0, journal: {} };
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function storeError(message: string, cause: unknown, code: typeof ErrorCode.storeFailure | typeof ErrorCode.storeTimeout = ErrorCode.storeFailure): ShardkitStoreError {
  return new ShardkitStoreError(code, message, { cause });
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return errnoCode(error) === 'EPERM';
  }
}

/**
 * A config store in one local JSON file, for single-host deployments and the demo.
 *
 * Crash safety: every change writes a temporary file in the same directory, fsyncs it, renames it
 * over the state file and fsyncs the directory, so a reader sees either the old or the new file,
 * never a torn one. Readers take no lock: rename is atomic.
 *
 * Mutual exclusion: every read-modify-write (compare-and-set, lock, journal) runs while holding
 * `<file>.lock`, created with `O_EXCL`, so of two processes racing a compare-and-set exactly one
 * wins and the other sees the new epoch. A mutex file left by a crashed process is broken when its
 * pid is gone (same host) or it is older than `mutexStaleMs`.
 */
export class FileConfigStore implements ConfigStore {
  /** Absolute path of the state file. */
  readonly path: string;
  readonly #mutexPath: string;
  readonly #clock: Clock;
  readonly #mutexWaitMs: number;
  readonly #mutexStaleMs: number;

  constructor(path: string, options: FileConfigStoreOptions = {}) {
    requireString(path, 'new FileConfigStore(path): path');
    optionalObject(options, 'new FileConfigStore(path, options): options');
    this.path = resolve(path);
    this.#mutexPath = `${this.path}.lock`;
    this.#clock = options.clock ?? systemClock;
    this.#mutexWaitMs = options.mutexWaitMs ?? 5000;
    this.#mutexStaleMs = options.mutexStaleMs ?? 10_000;
    if (!(this.#mutexWaitMs >= 0)) throw invalidArgument('new FileConfigStore: options.mutexWaitMs', 'a number >= 0', this.#mutexWaitMs);
    if (!(this.#mutexStaleMs > 0)) throw invalidArgument('new FileConfigStore: options.mutexStaleMs', 'a number > 0', this.#mutexStaleMs);
  }

  async load(): Promise<RoutingState | null> {
    return (await this.#read()).state;
  }

  async compareAndSet(expectedEpoch: number | null, next: RoutingState): Promise<void> {
    assertCasArguments(expectedEpoch, next);
    await this.#mutate((doc) => {
      const actual = doc.state?.epoch ?? null;
      if (actual !== expectedEpoch) throw staleEpochError(expectedEpoch, actual);
      doc.state = cloneValue(next);
      return true;
    });
  }

  async acquireLock(owner: string, leaseMs: number, generation?: number): Promise<LockInfo> {
    assertLockArguments(owner, leaseMs);
    return this.#mutate((doc) => {
      doc.lock = nextLock(doc.lock, doc.lockGeneration, owner, leaseMs, this.#clock.wall(), generation);
      doc.lockGeneration = doc.lock.generation;
      return true;
    }).then((doc) => ({ ...(doc.lock as LockInfo) }));
  }

  async releaseLock(owner: string): Promise<void> {
    const current = await this.#read();
    // Skip the write (and the mutex) when there is nothing of ours to release.
    if (current.lock?.owner !== owner) return;
    await this.#mutate((doc) => {
      if (doc.lock?.owner !== owner) return false;
      doc.lock = null;
      return true;
    });
  }

  async readLock(): Promise<LockInfo | null> {
    const { lock } = await this.#read();
    return lock !== null && lock.expiresAt > this.#clock.wall() ? lock : null;
  }

  async readJournal(key: string): Promise<Record<string, unknown> | null> {
    assertJournalKey(key);
    const { journal } = await this.#read();
    return Object.hasOwn(journal, key) ? (journal[key] ?? null) : null;
  }

  async writeJournal(key: string, value: Record<string, unknown>, generation?: number): Promise<void> {
    assertJournalKey(key);
    assertJournalValue(value);
    await this.#mutate((doc) => {
      assertLatestGeneration(generation, doc.lockGeneration);
      doc.journal[key] = cloneValue(value);
      return true;
    });
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  async #read(): Promise<FileDocument> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return emptyDocument();
      throw storeError(`cannot read config store file ${this.path}`, error);
    }
    let parsed: unknown;
    try {
      parsed = EJSON.parse(text, { relaxed: true });
    } catch (error) {
      throw storeError(`config store file ${this.path} is not valid JSON`, error);
    }
    if (typeof parsed !== 'object' || parsed === null || (parsed as { format?: unknown }).format !== FILE_FORMAT) {
      throw storeError(`config store file ${this.path} is not a shardkit state file (format ${FILE_FORMAT})`, undefined);
    }
    const doc = parsed as Partial<FileDocument>;
    // Files of the first release carry no generations: their lock, if any, is generation 0.
    const lock = doc.lock === undefined || doc.lock === null ? null : { ...doc.lock, generation: typeof doc.lock.generation === 'number' ? doc.lock.generation : 0 };
    return {
      format: FILE_FORMAT,
      state: doc.state ?? null,
      lock,
      lockGeneration: typeof doc.lockGeneration === 'number' ? doc.lockGeneration : (lock?.generation ?? 0),
      journal: typeof doc.journal === 'object' && doc.journal !== null ? doc.journal : {},
    };
  }

  /**
   * Read-modify-write under the mutex. `change` edits the document in place and returns whether
   * anything changed (false skips the write); it may throw to abort without writing.
   */
  async #mutate(change: (doc: FileDocument) => boolean): Promise<FileDocument> {
    const token = await this.#lockMutex();
    try {
      const doc = await this.#read();
      if (change(doc)) await this.#writeAtomically(doc);
      return doc;
    } finally {
      await this.#unlockMutex(token);
    }
  }

  async #writeAtomically(doc: FileDocument): Promise<void> {
    const text = `${EJSON.stringify(doc, undefined, 2, { relaxed: true })}\n`;
    const tmp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw storeError(`cannot write config store file ${this.path}`, error);
    }
    await this.#syncDirectory();
  }

  /** Make the rename itself durable; not every platform lets a directory be fsynced. */
  async #syncDirectory(): Promise<void> {
    let handle;
    try {
      handle = await open(dirname(this.path), 'r');
      await handle.sync();
    } catch {
      // Best effort: EISDIR/EPERM/EINVAL on platforms without directory fsync.
    } finally {
      await handle?.close();
    }
  }

  async #lockMutex(): Promise<string> {
    // `at` is wall time: other processes read it. The wait below is this process's own, so it runs on
    // the monotonic clock, the real one (the backoff sleeps on real timers, whatever clock leases use).
    const owner: MutexOwner = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex'), at: Date.now() };
    const body = JSON.stringify(owner);
    const deadline = systemClock.now() + this.#mutexWaitMs;
    let delay = 2;
    for (;;) {
      try {
        const handle = await open(this.#mutexPath, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
        try {
          await handle.writeFile(body, 'utf8');
        } finally {
          await handle.close();
        }
        return owner.token;
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw storeError(`cannot create ${this.#mutexPath}`, error);
      }
      if (await this.#breakStaleMutex()) continue;
      if (systemClock.now() >= deadline) {
        throw storeError(
          `config store file ${this.path} stayed locked by another writer for ${this.#mutexWaitMs} ms (${this.#mutexPath})`,
          undefined,
          ErrorCode.storeTimeout,
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 50);
    }
  }

  /**
   * Break the mutex if its holder is gone. It is renamed aside first (only one breaker can win
   * the rename), then checked to be the very file judged stale; a fresh mutex taken in between is
   * put back.
   */
  async #breakStaleMutex(): Promise<boolean> {
    let holder: MutexOwner | null;
    let mtimeMs: number;
    try {
      const [text, info] = await Promise.all([readFile(this.#mutexPath, 'utf8'), stat(this.#mutexPath)]);
      mtimeMs = info.mtimeMs;
      holder = parseMutexOwner(text);
    } catch (error) {
      // Gone already: retry at once. Anything else: let the wait loop time out.
      return errnoCode(error) === 'ENOENT';
    }
    const dead = holder !== null && holder.host === hostname() && !isProcessAlive(holder.pid);
    // A holder that has not finished writing its mutex body yet is not stale: age alone decides.
    // Wall time on purpose: the file's mtime was set by another process, possibly on another host
    // sharing the file, and wall time is the only clock both read (a step of it shifts the age by the
    // step; `mutexStaleMs` is chosen far above any step NTP makes).
    const old = Date.now() - mtimeMs > this.#mutexStaleMs;
    if (!dead && !old) return false;
    const aside = `${this.#mutexPath}.${randomBytes(6).toString('hex')}.stale`;
    try {
      await rename(this.#mutexPath, aside);
    } catch {
      return true;
    }
    const taken = parseMutexOwner(await readFile(aside, 'utf8').catch(() => ''));
    if (holder !== null && taken !== null && taken.token !== holder.token) {
      await link(aside, this.#mutexPath).catch(() => undefined);
    }
    await unlink(aside).catch(() => undefined);
    return true;
  }

  async #unlockMutex(token: string): Promise<void> {
    // Only remove our own mutex: if ours was broken as stale, another writer's is in its place.
    const current = parseMutexOwner(await readFile(this.#mutexPath, 'utf8').catch(() => ''));
    if (current?.token === token) await unlink(this.#mutexPath).catch(() => undefined);
  }
}

function parseMutexOwner(text: string): MutexOwner | null {
  try {
    const value = JSON.parse(text) as Partial<MutexOwner>;
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.token === 'string') {
      return { pid: value.pid, host: value.host, token: value.token, at: typeof value.at === 'number' ? value.at : 0 };
    }
  } catch {
    // An empty or half-written body: the holder is still writing it, or crashed doing so.
  }
  return null;
}
