/**
 * The one loop that reads the live deployment for `shardkit serve`: every `intervalMs` it builds the
 * `status` report (through shard stores it keeps open between polls) and reads the migration
 * journal. Every HTTP request answers from the last poll, so scrapes and dashboards never multiply
 * the load on shards, and a slow shard slows one poll, not every request.
 */
import type { Deployment } from '../deployment/deployment.js';
import { countShard, statusReport, type CountShard, type ShardCounts, type StatusReport } from '../cli/commands/status.js';
import { journalFromRecord, journalKey, type MigrationJournal } from '../rebalance/journal.js';
import { redactText } from '../redact.js';
import { ShardkitError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { ShardStore } from '../stores/shard-store.js';
import type { ShardSpec } from '../topology/types.js';
import { CopyRate, migrationView, ringArcs, type ServeStatus } from './status-model.js';

/** Options of {@link StatusCollector}. */
export interface StatusCollectorOptions {
  readonly deployment: Deployment;
  readonly clock: Clock;
  /** Time between polls (ms). */
  readonly intervalMs: number;
  /** How far back the copy rate looks (ms); default 10 polls. */
  readonly rateWindowMs?: number;
  /** Wraps each shard store once, when opened (e.g. to measure its calls). */
  readonly wrap?: (store: ShardStore) => ShardStore;
  /** Told after every poll (metrics). */
  readonly onPoll?: (status: ServeStatus) => void;
}

function reason(error: unknown): string {
  const text = redactText(error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  return error instanceof ShardkitError ? `${text} [${error.code}]` : text;
}

/**
 * How many times its own duration a shard's count is kept before it is read again. A count is a pass
 * over the whole shard (on FerretDB a read of every entry: 9 s for 4 shards of 30,000 documents on
 * the test servers); read at every 2 s poll it would keep the shards scanning without pause, during a
 * migration too. Kept for ten times its duration, counting costs a shard at most a tenth of its time;
 * a quick count (a small or indexed shard) is read again at every poll.
 */
const COUNT_KEPT_FOR = 10;

/** Each shard's last counts, read again once `COUNT_KEPT_FOR` times their duration (at least a poll's interval) has passed. */
class KeptCounts {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #last = new Map<string, { readonly at: number; readonly tookMs: number; readonly counts: ShardCounts }>();

  constructor(clock: Clock, intervalMs: number) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
  }

  readonly count: CountShard = async (shard, store) => {
    const key = shardKey(shard);
    const started = this.#clock.now();
    const last = this.#last.get(key);
    if (last !== undefined && started - last.at < Math.max(this.#intervalMs, COUNT_KEPT_FOR * last.tookMs)) return last.counts;
    const counts = await countShard(shard, store);
    const ended = this.#clock.now();
    this.#last.set(key, { at: ended, tookMs: ended - started, counts: { ...counts, countedAt: this.#clock.wall() } });
    return counts;
  };
}

function shardKey(shard: ShardSpec): string {
  return `${shard.id}\u0001${shard.uri ?? ''}\u0001${shard.db ?? ''}`;
}

/** Polls a deployment and keeps its latest {@link ServeStatus}. */
export class StatusCollector {
  readonly #o: StatusCollectorOptions;
  readonly #rate: CopyRate;
  // One store per shard id and uri, kept between polls; a shard whose uri changed gets a new one.
  readonly #stores = new Map<string, Promise<ShardStore>>();
  readonly #counts: KeptCounts;
  #latest: ServeStatus | undefined;
  #timer: ReturnType<Clock['setTimeout']> | undefined;
  #polling: Promise<ServeStatus> | undefined;
  #stopped = false;

  constructor(options: StatusCollectorOptions) {
    this.#o = options;
    this.#rate = new CopyRate(options.rateWindowMs ?? 10 * options.intervalMs);
    this.#counts = new KeptCounts(options.clock, options.intervalMs);
  }

  /** The last poll's status (undefined before the first poll ends). */
  get latest(): ServeStatus | undefined {
    return this.#latest;
  }

  /** Poll now and then every `intervalMs` until {@link stop}; resolves after the first poll. */
  async start(): Promise<ServeStatus> {
    const first = await this.poll();
    this.#schedule();
    return first;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      void this.poll().finally(() => this.#schedule());
    }, this.#o.intervalMs);
  }

  /** One poll (a poll already running is joined, not doubled). */
  poll(): Promise<ServeStatus> {
    this.#polling ??= this.#read().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  /** Stop polling and wait for a poll in flight; the deployment's owner closes the stores. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    await this.#polling?.catch(() => undefined);
  }

  #open(shard: ShardSpec): Promise<ShardStore> {
    const key = shardKey(shard);
    let store = this.#stores.get(key);
    if (store === undefined) {
      store = this.#o.deployment.openShard(shard).then((s) => this.#o.wrap?.(s) ?? s);
      this.#stores.set(key, store);
      // A shard that could not be reached is tried afresh at the next poll.
      store.catch(() => this.#stores.delete(key));
    }
    return store;
  }

  async #read(): Promise<ServeStatus> {
    const at = this.#o.clock.wall();
    let deployment: StatusReport | null = null;
    let journal: MigrationJournal | null = null;
    let configError: string | undefined;
    let journalError: string | undefined;
    try {
      deployment = await statusReport(this.#o.deployment, (s) => this.#open(s), this.#counts.count);
    } catch (error) {
      configError = reason(error);
    }
    // Read apart from the state: a malformed journal must not hide the shards.
    try {
      const record = await this.#o.deployment.configStore.readJournal(journalKey(this.#o.deployment.config.name));
      journal = record === null ? null : journalFromRecord(record);
    } catch (error) {
      journalError = reason(error);
    }
    let migration = null;
    if (journal !== null) {
      const copied = journal.moves.reduce((sum, m) => sum + m.copied, 0);
      const recent = this.#rate.observe(`${journal.id}/${String(journal.reverse)}`, copied, this.#o.clock.now());
      migration = migrationView(journal, recent.windowMs, recent.docs);
    }
    const status: ServeStatus = {
      at,
      configStore: configError === undefined ? { reachable: true } : { reachable: false, error: configError },
      deployment,
      ring: deployment === null ? null : ringArcs(deployment.topology),
      migration,
      ...(journalError === undefined ? {} : { journalError }),
      ready: deployment !== null && deployment.shards.every((s) => s.reachable),
    };
    this.#latest = status;
    this.#o.onPoll?.(status);
    return status;
  }
}
