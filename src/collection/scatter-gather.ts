/**
 * Scatter-gather: queries that do not pin one `_id` ask every shard that may hold a key, in parallel,
 * with the sort and `skip + limit` pushed down, and merge in the server's sort order. Fenced copies
 * found on the way are resolved by the migration protocol's ownership rule (ADR 0002: while migrating,
 * the new owner's entry wins; ADR 0003: an old owner's fenced copy that the new owner lacks counts only
 * once a refresh confirms the migration still runs); each is judged by `entryKind`.
 */
import type { Document, Filter, Sort } from 'mongodb';
import type { ShardKey } from '../hash/types.js';
import { idKey } from '../stores/bson-order.js';
import type { StoredDocument } from '../stores/shard-store.js';
import { documentComparator, normalizeSort, sortDocument } from './compare.js';
import { matchesFilter, pushedProjection, stripMarkers } from './documents.js';
import { isLive } from '../stores/markers.js';
import { type Entry, entryKind } from './entry.js';
import type { RedirectExecutor } from './redirect-executor.js';
import { ownerOfStored, type RoutingView } from './routing-view.js';
import { moved } from './shard-errors.js';
import { targetFilter } from './targeting.js';

const NO_MARKERS: Readonly<Document> = { _ph: { $exists: false }, _ts: { $exists: false } };
const LIVE_ONLY: Readonly<Document> = { _moved: { $exists: false }, _ph: { $exists: false }, _ts: { $exists: false } };
const FENCED_DATA: Readonly<Document> = { _moved: { $exists: true }, _ph: { $exists: false }, _ts: { $exists: false } };

function and(filter: Filter<Document>, extra: Readonly<Document>): Filter<Document> {
  const keys = Object.keys(filter);
  if (keys.length === 0) return { ...extra };
  if (Object.keys(extra).some((k) => keys.includes(k))) return { $and: [filter, extra] };
  return { ...filter, ...extra };
}

/** `filter` as every shard is asked it: placeholders and tombstones left out (fenced copies are kept). */
export function applicationFilter(filter: Filter<Document>): Filter<Document> {
  return and(filter, NO_MARKERS);
}

/**
 * The shards a query must ask under `view`: the owners of the shard-key values its filter pins, else
 * every shard that may hold a key (`targeting.ts`, ADR 0008). Every scatter-gather (the find cursor's
 * merge, count, the multi-document writes) asks through here.
 */
export function targetShards(view: RoutingView, filter: Filter<Document>): readonly string[] {
  return targetFilter(view, filter).shards;
}

/**
 * What makes two entries copies of one document: its `_id` and its `_h`. Under a shard key other than
 * `_id`, `_id` is unique per shard only, and two documents sharing one on two shards are two documents
 * (ADR 0008); copies of one document share its `_h`, the point of its immutable shard-key value.
 */
function copyKey(d: StoredDocument): string {
  return `${String(d._h)}\u0001${idKey(d._id)}`;
}

/** What `find` asks every shard for. */
export interface ScatterQuery {
  readonly filter: Filter<Document>;
  readonly sort: Sort | undefined;
  readonly skip: number;
  /** 0: no limit. */
  readonly limit: number;
  readonly projection: Document | undefined;
}

/**
 * Which fenced documents found at `shardId` count. While migrating, a document fenced at its old owner
 * counts unless the new owner holds the key (a document or a tombstone), and only once a refresh confirms
 * the migration still runs (`confirmMigrating`); fenced anywhere else it is a leftover of a finished
 * migration. A fence at a key's current owner, or a fence newer than our epoch, means we are behind:
 * "moved". Returns the kept fenced documents, plus the new owner's copies of dropped ones (fetched by
 * `_id`) so a copy made between our queries is not lost.
 */
export async function resolveFenced(
  exec: RedirectExecutor,
  view: RoutingView,
  shardId: string,
  fenced: readonly StoredDocument[],
): Promise<{ kept: StoredDocument[]; replacements: StoredDocument[] }> {
  const kept: StoredDocument[] = [];
  const byNewOwner = new Map<string, StoredDocument[]>();
  const relicsByOldOwner = new Map<string, StoredDocument[]>();
  for (const doc of fenced) {
    const entry = entryKind(view, doc);
    if (!entry.data) continue;
    if (entry.newer) throw moved(shardId, `a document here was fenced at epoch ${String(entry.epoch)}`);
    const owner = ownerOfStored(view.to, doc);
    const before = view.from === undefined ? owner : ownerOfStored(view.from, doc);
    if (owner === shardId) {
      if (before === shardId) throw moved(shardId, `a document it owns is fenced (epoch ${String(entry.epoch)})`);
      if (entry.older) push(relicsByOldOwner, before, doc);
      continue;
    }
    if (before !== shardId) continue;
    push(byNewOwner, owner, doc);
  }
  const replacements: StoredDocument[] = [];
  const [relics] = await Promise.all([
    Promise.all([...relicsByOldOwner].map(([before, docs]) => standingRelics(exec, view, before, docs))),
    Promise.all(
      [...byNewOwner].map(async ([owner, docs]) => {
        const present = await entriesAt(exec, view, owner, docs, (e) => e.kind === 'live' || e.kind === 'tombstone');
        for (const doc of docs) {
          const copy = present.get(idKey(doc._id));
          if (copy === undefined) kept.push(doc);
          else if (isLive(copy)) replacements.push(copy);
        }
      }),
    ),
  ]);
  // Fenced copies the new owners had nothing for count only while the migration still runs.
  const [first] = kept;
  if (first !== undefined) await exec.confirmMigrating(view, shardId, first._id as ShardKey);
  return { kept: kept.concat(...relics), replacements };
}

function push(groups: Map<string, StoredDocument[]>, shardId: string, doc: StoredDocument): void {
  const list = groups.get(shardId);
  if (list === undefined) groups.set(shardId, [doc]);
  else list.push(doc);
}

/**
 * The entries `shardId` holds for the `_id`s of `docs` that `holds` accepts, by `idKey`, read in one
 * `_id` lookup; a fence newer than the view there means "moved".
 */
async function entriesAt(
  exec: RedirectExecutor,
  view: RoutingView,
  shardId: string,
  docs: readonly StoredDocument[],
  holds: (entry: Entry) => boolean,
): Promise<Map<string, StoredDocument>> {
  const found = await exec.callShard(view, shardId, (s) => s.find({ _id: { $in: docs.map((d) => d._id) } }));
  const held = new Map<string, StoredDocument>();
  for (const d of found) {
    const entry = entryKind(view, d);
    if (entry.newer) throw moved(shardId, `a document here was fenced at epoch ${String(entry.epoch)}`);
    if (holds(entry)) held.set(idKey(d._id), d);
  }
  return held;
}

/**
 * The relics among `docs` (an aborted leg's fences with data at their keys' owner) that stand in for
 * their keys: those whose old owner `before` holds neither data nor a tombstone for the `_id` (a router
 * of the aborted leg fenced the key and died before copying it), as a single-key read decides
 * (`KeyProtocol.locate`, ADR 0003). The old owner is read after the relic was, as that read does.
 */
async function standingRelics(exec: RedirectExecutor, view: RoutingView, before: string, docs: readonly StoredDocument[]): Promise<StoredDocument[]> {
  const held = await entriesAt(exec, view, before, docs, (e) => e.data || e.kind === 'tombstone');
  return docs.filter((d) => !held.has(idKey(d._id)));
}

/** The documents of a scatter-gather `find`, merged in the server's sort order, markers included. */
export async function scatterFind(exec: RedirectExecutor, view: RoutingView, query: ScatterQuery): Promise<StoredDocument[]> {
  const { filter, skip, limit } = query;
  const fields = normalizeSort(query.sort);
  if (fields.length > 0 && !fields.some((f) => f.path === '_id')) fields.push({ path: '_id', dir: 1 });
  const sortDoc = fields.length > 0 ? sortDocument(fields) : undefined;
  const want = limit > 0 ? skip + limit : Infinity;
  const pushed = applicationFilter(filter);
  const proj = pushedProjection(query.projection, fields.map((f) => f.path));
  const perShard = await Promise.all(
    targetShards(view, filter).map(async (shardId) => {
      let batch = want;
      for (;;) {
        const docs = await exec.callShard(view, shardId, (s) =>
          s.find(pushed, {
            ...(sortDoc === undefined ? {} : { sort: sortDoc }),
            ...(Number.isFinite(batch) ? { limit: batch } : {}),
            ...(proj === undefined ? {} : { projection: proj }),
          }),
        );
        const live = docs.filter(isLive);
        const resolved = live.length === docs.length ? { kept: [], replacements: [] } : await resolveFenced(exec, view, shardId, docs.filter((d) => !isLive(d)));
        const keptHere = live.length + resolved.kept.length;
        // Dropped fenced copies may have pushed kept documents past the pushed-down limit: ask for more.
        if (!Number.isFinite(batch) || docs.length < batch || keptHere >= want) {
          return { docs: [...live, ...resolved.kept], replacements: resolved.replacements };
        }
        batch = batch * 2 + (docs.length - keptHere);
      }
    }),
  );
  const byId = new Map<string, StoredDocument>();
  for (const { docs } of perShard) for (const d of docs) if (!byId.has(copyKey(d))) byId.set(copyKey(d), d);
  for (const { replacements } of perShard) {
    for (const d of replacements) if (matchesFilter(filter, stripMarkers(d))) byId.set(copyKey(d), d);
  }
  const merged = [...byId.values()];
  if (fields.length > 0) merged.sort(documentComparator(fields));
  return merged.slice(skip, Number.isFinite(want) ? want : undefined);
}

/**
 * The number of documents matching `filter`. On a stable state, a count of live documents per shard
 * plus the fenced documents that count (no fence is being made: a fence newer than the view is
 * "moved" and the count runs again under the migrating state). While migrating, fences land at any
 * moment, and a count of live documents and a query for fenced ones, sent one after the other, see a
 * fence batch landing between them twice or not at all (issue 9: 395, 399 or 401 for 400). So the
 * migrating count is the `find` of the matching `_id`s: one query per shard, each fenced copy resolved
 * by the ownership rule and every `_id` counted once, which is exact (it costs the `_id`s of the
 * matching documents in transfer, only while a migration runs).
 */
export async function scatterCount(exec: RedirectExecutor, view: RoutingView, filter: Filter<Document>): Promise<number> {
  if (view.from !== undefined) {
    const ids = await scatterFind(exec, view, { filter, sort: undefined, skip: 0, limit: 0, projection: { _id: 1 } });
    return ids.length;
  }
  const counts = await Promise.all(
    targetShards(view, filter).map(async (shardId) => {
      const [live, fenced] = await Promise.all([
        exec.callShard(view, shardId, (s) => s.count(and(filter, LIVE_ONLY))),
        exec.callShard(view, shardId, (s) => s.find(and(filter, FENCED_DATA), { projection: { _id: 1, _h: 1, _v: 1, _moved: 1, _ph: 1, _ts: 1 } })),
      ]);
      if (fenced.length === 0) return live;
      const { kept } = await resolveFenced(exec, view, shardId, fenced);
      return live + kept.length;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
