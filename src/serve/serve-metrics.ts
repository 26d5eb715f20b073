/**
 * The Prometheus view of a {@link ServeStatus}: shard reachability, ping latency, documents and ring
 * share per shard, the routing state's epoch and phase, and the migration's progress, rate, ETA and
 * journal counters, plus counters of failed probes. Gauges are set from each poll, so a scrape costs
 * the shards nothing.
 */
import type { Counter, Gauge, Registry } from 'prom-client';
import { Phase } from '../rebalance/journal.js';
import { counterIn, gaugeIn } from '../metrics/prom.js';
import type { MigrationCounters } from '../rebalance/journal.js';
import type { ServeStatus } from './status-model.js';

const ROUTING_PHASES = ['stable', 'settling', 'migrating'] as const;

/** Journal counter -> `kind` label of `shardkit_migration_documents`. */
const COUNTER_KINDS: Readonly<Record<keyof MigrationCounters, string>> = {
  docsRead: 'read',
  docsMoved: 'moved',
  docsInserted: 'inserted',
  keysRead: 'keys_read',
  keysListed: 'keys_listed',
  swept: 'swept',
  repaired: 'repaired',
  relicsLifted: 'relics_lifted',
  deleted: 'markers_deleted',
};

function flag(on: boolean): number {
  return on ? 1 : 0;
}

/** The gauges and counters `shardkit serve` exposes on `/metrics`. */
export class ServeMetrics {
  readonly #configUp: Gauge;
  readonly #configErrors: Counter;
  readonly #lastPoll: Gauge;
  readonly #shardUp: Gauge<'shard'>;
  readonly #ping: Gauge<'shard'>;
  readonly #documents: Gauge<'shard'>;
  readonly #markers: Gauge<'shard'>;
  readonly #share: Gauge<'shard'>;
  readonly #probeErrors: Counter<'shard'>;
  readonly #epoch: Gauge;
  readonly #routingPhase: Gauge<'phase'>;
  readonly #migActive: Gauge;
  readonly #migPhase: Gauge<'phase'>;
  readonly #migCopied: Gauge;
  readonly #migEstimated: Gauge;
  readonly #migMoves: Gauge<'state'>;
  readonly #migRate: Gauge;
  readonly #migEta: Gauge;
  readonly #migDocs: Gauge<'kind'>;

  /** Register the metrics in `registry`. */
  constructor(registry: Registry) {
    const g = <L extends string>(name: string, help: string, labels: readonly L[] = []): Gauge<L> => gaugeIn(registry, name, help, labels);
    this.#configUp = g('shardkit_config_store_up', 'The config store answered the last poll and holds a routing state (1) or not (0).');
    this.#configErrors = counterIn(registry, 'shardkit_config_store_errors_total', 'Polls that could not read the config store.', []);
    this.#lastPoll = g('shardkit_serve_last_poll_timestamp_seconds', 'Wall-clock time of the last poll of the deployment.');
    this.#shardUp = g('shardkit_shard_up', 'The shard answered ping and counts at the last poll (1) or not (0).', ['shard']);
    this.#ping = g('shardkit_shard_ping_seconds', 'Round trip of a ping to the shard at the last poll.', ['shard']);
    this.#documents = g('shardkit_shard_documents', 'Live documents on the shard at the last poll.', ['shard']);
    this.#markers = g('shardkit_shard_markers', 'Fences, placeholders and tombstones on the shard at the last poll.', ['shard']);
    this.#share = g('shardkit_shard_ring_share', 'Share of the hash ring the shard owns (0..1).', ['shard']);
    this.#probeErrors = counterIn(registry, 'shardkit_shard_probe_errors_total', 'Polls that could not reach the shard.', ['shard']);
    this.#epoch = g('shardkit_routing_epoch', 'Epoch of the published routing state.');
    this.#routingPhase = g('shardkit_routing_phase', 'Phase of the routing state: 1 for the current one.', ['phase']);
    this.#migActive = g('shardkit_migration_active', 'A migration is recorded and not done (1) or not (0).');
    this.#migPhase = g('shardkit_migration_phase', 'Phase of the recorded migration: 1 for the current one.', ['phase']);
    this.#migCopied = g('shardkit_migration_copied_documents', 'Documents the migration has copied in its current leg.');
    this.#migEstimated = g('shardkit_migration_estimated_documents', 'Documents the current leg is estimated to copy.');
    this.#migMoves = g('shardkit_migration_moves', 'Moves (hash ranges) of the current leg, all and with the copy done.', ['state']);
    this.#migRate = g('shardkit_migration_rate_docs_per_second', 'Documents copied per second over the recent window.');
    this.#migEta = g('shardkit_migration_eta_seconds', 'Remaining copy time at the recent rate (NaN when unknown).');
    this.#migDocs = g('shardkit_migration_documents', 'The migration journal counters, by kind.', ['kind']);
  }

  /** Set every gauge from one poll's status. */
  update(status: ServeStatus): void {
    this.#lastPoll.set(status.at / 1000);
    this.#configUp.set(flag(status.configStore.reachable));
    if (!status.configStore.reachable) this.#configErrors.inc();
    const d = status.deployment;
    // A shard that left the topology must not keep reporting its last values.
    for (const gauge of [this.#shardUp, this.#ping, this.#documents, this.#markers, this.#share]) gauge.reset();
    if (d !== null) {
      for (const s of d.shards) {
        const shard = { shard: s.id };
        this.#shardUp.set(shard, flag(s.reachable));
        this.#share.set(shard, s.share);
        if (s.latencyMs !== null) this.#ping.set(shard, s.latencyMs / 1000);
        if (s.documents !== null) this.#documents.set(shard, s.documents);
        if (s.markers !== null) this.#markers.set(shard, s.markers);
        if (!s.reachable) this.#probeErrors.inc(shard);
      }
      this.#epoch.set(d.epoch);
      const phase = d.phase === 'stable' && d.settling ? 'settling' : d.phase;
      for (const p of ROUTING_PHASES) this.#routingPhase.set({ phase: p }, flag(p === phase));
    }
    this.#updateMigration(status);
  }

  #updateMigration(status: ServeStatus): void {
    const m = status.migration;
    this.#migActive.set(flag(m?.active === true));
    for (const p of Object.values(Phase)) this.#migPhase.set({ phase: p }, flag(m?.phase === p));
    this.#migCopied.set(m?.copied ?? 0);
    this.#migEstimated.set(m?.estimated ?? 0);
    this.#migMoves.set({ state: 'total' }, m?.moves.length ?? 0);
    this.#migMoves.set({ state: 'copied' }, m?.moves.filter((x) => x.done !== null).length ?? 0);
    this.#migRate.set(m?.docsPerSec ?? 0);
    // Unknown is NaN, which graphs leave as a gap (prom-client writes `Nan`; Prometheus reads NaN in any case).
    this.#migEta.set(m === null ? 0 : m.etaMs === null ? Number.NaN : m.etaMs / 1000);
    for (const [key, kind] of Object.entries(COUNTER_KINDS)) this.#migDocs.set({ kind }, m?.counters[key as keyof MigrationCounters] ?? 0);
  }
}
