/**
 * Upsert emulation: what an upsert sends (the key's ring point set on insert, so the stored document
 * carries `_h`), the document it creates when the router must create it itself, and the one atomic step
 * that creates a document over a tombstone (ADR 0003: "re-inserting over a tombstone is one atomic
 * step"; a delete-then-insert would show a reader the old owner's fenced copy in between).
 */
import { updateOne as mingoUpdateOne } from 'mingo';
import type { Document, Filter, UpdateFilter } from 'mongodb';
import type { ShardKey } from '../hash/types.js';
import type { StoredDocument } from '../stores/shard-store.js';
import type { RoutingView } from './routing-view.js';
import type { RedirectExecutor } from './redirect-executor.js';

/** The update with the key's ring point set on insert, so an upsert stores `_h`. */
export function withPoint(update: UpdateFilter<Document> | Document[], h: number): UpdateFilter<Document> | Document[] {
  if (Array.isArray(update)) return [...update, { $set: { _h: h } }];
  const onInsert = (update as { $setOnInsert?: Document }).$setOnInsert;
  return { ...update, $setOnInsert: { ...onInsert, _h: h } };
}

/** The document an upsert creates: the filter's top-level equalities, then the update. */
export function upsertDocument(filter: Filter<Document>, update: UpdateFilter<Document> | Document[], id: ShardKey): Document {
  const seed: Document = {};
  for (const [k, v] of Object.entries(filter)) {
    if (k.startsWith('$') || k.includes('.')) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).some((x) => x.startsWith('$'))) continue;
    seed[k] = v;
  }
  seed['_id'] = id;
  let modifier: unknown = update;
  if (!Array.isArray(update)) {
    const { $setOnInsert, ...ops } = update as Document;
    modifier = $setOnInsert === undefined ? ops : { ...ops, $set: { ...(ops['$set'] as Document | undefined), ...($setOnInsert as Document) } };
  }
  const target = [seed];
  mingoUpdateOne(target, {}, modifier as Parameters<typeof mingoUpdateOne>[2]);
  const out = target[0] as Document;
  delete out['_h'];
  delete out['_v'];
  return out;
}

/**
 * Replace the tombstone `tomb` at `shardId` with `doc` in one atomic store call, its version above the
 * tombstone's; false when the tombstone was gone (the caller looks again).
 */
export function replaceTombstone(exec: RedirectExecutor, view: RoutingView, shardId: string, tomb: StoredDocument, doc: StoredDocument): Promise<boolean> {
  const next: StoredDocument = { ...doc, _v: Math.max(doc._v, (tomb._v ?? 0) + 1) };
  return exec.callShard(view, shardId, (s) => s.replaceTombstone(next));
}
