/**
 * The demo's verdict: every shard's content, read directly from the stores (bypassing the data path
 * under test), against what the writers were told.
 */
import type { PlacementAuditReport } from '../audit/placement-audit.js';
import type { MigrationReport } from '../rebalance/migrator.js';
import type { RoutingState } from '../router/routing-state.js';
import type { ShardStore, StoredDocument } from '../stores/shard-store.js';
import type { Expected } from './writers.js';

/**
 * What a writer acknowledged, which is all the checks read of it: the demo's `DemoWriter` and the
 * load benchmark's open-loop books both keep these.
 */
export interface WriterBooks {
  /** Expected state per owned key after the last acknowledged write. */
  readonly expected: ReadonlyMap<string, Expected>;
  /** Keys whose last operation failed: any of these states is acceptable. */
  readonly uncertain: ReadonlyMap<string, readonly Expected[]>;
  /** Reads checked, and reads that did not return the last acknowledged write (must stay 0). */
  readonly counters: { readonly reads: number; readonly staleReads: number };
}

/** One checked invariant. */
export interface InvariantResult {
  readonly name: string;
  readonly ok: boolean;
  /** Counts, and a few example keys when it failed. */
  readonly detail: string;
}

/** What {@link checkInvariants} compares. */
export interface CheckInput {
  readonly state: RoutingState;
  readonly toEpoch: number;
  readonly writers: readonly WriterBooks[];
  readonly stores: ReadonlyMap<string, ShardStore>;
  readonly audit: PlacementAuditReport;
  readonly report: MigrationReport;
}

const SAMPLES = 5;

function samples(ids: readonly string[]): string {
  if (ids.length === 0) return '';
  return `; e.g. ${ids.slice(0, SAMPLES).join(', ')}${ids.length > SAMPLES ? ', …' : ''}`;
}

function isMarker(doc: StoredDocument): boolean {
  return doc._moved !== undefined || doc._ph === true || doc._ts === true;
}

/** Every live document of every shard by `_id` (with the shards holding it), and the markers left. */
async function scanShards(stores: ReadonlyMap<string, ShardStore>): Promise<{ live: Map<string, { shards: string[]; n: unknown }>; markers: number }> {
  const live = new Map<string, { shards: string[]; n: unknown }>();
  let markers = 0;
  for (const [shard, store] of stores) {
    for (const doc of await store.find({})) {
      if (isMarker(doc)) {
        markers += 1;
        continue;
      }
      const key = String(doc._id);
      const entry = live.get(key) ?? { shards: [] as string[], n: doc['n'] };
      entry.shards.push(shard);
      live.set(key, entry);
    }
  }
  return { live, markers };
}

/** Each writer's acknowledged outcome per key against what the shards hold. */
function compareWithBooks(live: ReadonlyMap<string, { shards: string[]; n: unknown }>, writers: readonly WriterBooks[]) {
  const lost: string[] = [];
  const wrongVersion: string[] = [];
  const resurrected: string[] = [];
  const known = new Set<string>();
  const acceptable = (id: string, allowed: readonly Expected[]): void => {
    known.add(id);
    const entry = live.get(id);
    const ok = allowed.some((want) => (want === null ? entry === undefined : entry !== undefined && entry.n === want));
    if (ok) return;
    if (entry === undefined) lost.push(id);
    else if (allowed.every((want) => want === null)) resurrected.push(id);
    else wrongVersion.push(`${id} (n ${String(entry.n)}, expected ${allowed.map(String).join(' or ')})`);
  };
  let acknowledgedLive = 0;
  let acknowledgedDeleted = 0;
  for (const w of writers) {
    for (const [id, want] of w.expected) {
      if (w.uncertain.has(id)) continue;
      if (want === null) acknowledgedDeleted += 1;
      else acknowledgedLive += 1;
      acceptable(id, [want]);
    }
    for (const [id, allowed] of w.uncertain) acceptable(id, allowed);
  }
  return { lost, wrongVersion, resurrected, known, acknowledgedLive, acknowledgedDeleted };
}

/**
 * Compare every shard's content with what the writers were told: reads all documents of every
 * shard (markers included) directly from the stores, bypassing the data path under test.
 */
export async function checkInvariants(input: CheckInput): Promise<InvariantResult[]> {
  const { state, writers, stores, audit, report } = input;
  const { live, markers } = await scanShards(stores);
  const { lost, wrongVersion, resurrected, known, acknowledgedLive, acknowledgedDeleted } = compareWithBooks(live, writers);
  const duplicates = [...live].filter(([, e]) => e.shards.length > 1).map(([id, e]) => `${id} on ${e.shards.join('+')}`);
  const orphans = [...live.keys()].filter((id) => !known.has(id));
  const t = audit.totals;
  const misplaced = t.misplaced + t.badHash + t.missingHash + t.fencedAtOwner;
  const staleReads = writers.reduce((s, w) => s + w.counters.staleReads, 0);
  const reads = writers.reduce((s, w) => s + w.counters.reads, 0);
  const uncertain = writers.reduce((s, w) => s + w.uncertain.size, 0);
  return [
    {
      name: 'migration completed and the new topology is live',
      ok: report.outcome === 'completed' && state.phase === 'stable' && state.epoch === input.toEpoch,
      detail: `outcome ${report.outcome}, state ${state.phase} at epoch ${state.epoch}`,
    },
    {
      name: 'every acknowledged write is there, at its latest version',
      ok: lost.length === 0 && wrongVersion.length === 0,
      detail:
        `${acknowledgedLive} live keys checked (${uncertain} with an unacknowledged last write accepted either way): ` +
        `${lost.length} missing, ${wrongVersion.length} at an older version${samples([...lost, ...wrongVersion])}`,
    },
    {
      name: 'no deleted document came back',
      ok: resurrected.length === 0,
      detail: `${acknowledgedDeleted} deleted keys checked, ${resurrected.length} back${samples(resurrected)}`,
    },
    {
      name: 'no duplicates',
      ok: duplicates.length === 0 && t.duplicates === 0,
      detail: `${duplicates.length} _id(s) live on two shards${samples(duplicates)}`,
    },
    {
      name: 'no orphans',
      ok: orphans.length === 0,
      detail: `${orphans.length} live document(s) no writer wrote${samples(orphans)}`,
    },
    {
      name: 'every document on the shard its key routes to',
      ok: misplaced === 0,
      detail: `${t.live} live: ${t.misplaced} misplaced, ${t.badHash + t.missingHash} bad _h, ${t.fencedAtOwner} fenced at their owner`,
    },
    {
      name: 'no fence, placeholder or tombstone left after cleanup',
      ok: markers === 0,
      detail: `${markers} marker(s) left`,
    },
    {
      name: 'every read during the migration saw the latest acknowledged write',
      ok: staleReads === 0,
      detail: `${reads} reads, ${staleReads} stale`,
    },
  ];
}
