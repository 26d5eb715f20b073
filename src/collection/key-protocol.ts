/**
 * The single-key protocol: reads and writes of one `_id` at its owner (ADR 0002; ADR 0003's router
 * requirements). Each path asks `entryKind` what holds the `_id` and switches on the answer: a fence
 * newer than the view is "moved", a leftover placeholder stands for no document, a tombstone is a
 * delete that an insert or upsert replaces atomically. While the key moves, writes first make the new
 * owner hold it (`new-owner.ts`); on a settling state, deletes of keys the committed migration moved
 * leave a tombstone.
 */
import type { Document, Filter, UpdateFilter } from 'mongodb';
import { ErrorCode, ShardkitStoreError } from '../errors.js';
import { keyToString } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import type { ShardStore, StoredDocument, WriteOutcome } from '../stores/shard-store.js';
import { onlyKey } from './documents.js';
import { entryKind, turnsAway } from './entry.js';
import { type MovingPlace, NewOwnerHints, prepareNewOwner } from './new-owner.js';
import type { RedirectExecutor } from './redirect-executor.js';
import { type KeyPlace, placeKey, type RoutingView } from './routing-view.js';
import { duplicate, isDuplicate, keptRacing, moved } from './shard-errors.js';
import { withKeyOnInsert } from './shard-key-rules.js';
import { replaceTombstone, upsertDocument, withPoint } from './upsert.js';
import { DELETED_ONE, INSERTED_ONE, type OpOutcome, type WriteOp, ZERO } from './write-ops.js';

/** What a single-key update or replace that matched reports. */
function applied(outcome: WriteOutcome): OpOutcome {
  return { inserted: 0, matched: outcome.matched, modified: outcome.modified, deleted: 0, upserted: 0 };
}

/** Attempts of one single-key write that keeps meeting a changed entry. */
const MAX_WRITE_RETRIES = 4;

/** Reads and writes one key under a routing view; a "moved" it throws is the executor's to redirect. */
export class KeyProtocol {
  readonly #exec: RedirectExecutor;
  /** Moving keys found at their new owner: their updates go there first (`NewOwnerHints`). */
  readonly #atNew = new NewOwnerHints();

  constructor(exec: RedirectExecutor) {
    this.#exec = exec;
  }

  /** Run one checked write under `view`. */
  apply(view: RoutingView, op: WriteOp): Promise<OpOutcome> {
    switch (op.kind) {
      case 'insert':
        return this.#insert(view, placeKey(view, op.key, op.value), op.data);
      case 'update':
        return this.#update(view, placeKey(view, op.key, op.value), op.filter, op.update, op.upsert);
      case 'replace':
        return this.#replace(view, placeKey(view, op.key, op.value), op.filter, op.replacement, op.upsert);
      case 'delete':
        return this.#delete(view, placeKey(view, op.key, op.value), op.filter);
      case 'changeId':
        return this.#changeId(view, placeKey(view, op.key, op.value), op.filter, op.upsert, op.op);
    }
  }

  /**
   * A write that would change the `_id` of the document `filter` pins: the driver answers
   * `matchedCount: 0` when nothing matches and an ImmutableField error when a document matches (or an
   * upsert would insert under another `_id` than its filter's).
   */
  async #changeId(view: RoutingView, place: KeyPlace, filter: Filter<Document>, upsert: boolean, op: string): Promise<OpOutcome> {
    const doc = await this.readMatching(view, place.id, filter, place.value);
    if (doc === null && !upsert) return ZERO;
    throw new ShardkitStoreError(
      ErrorCode.storeImmutableField,
      `${op}: performing an update on the path '_id' would modify the immutable field '_id' (_id ${keyToString(place.id)})`,
      { shardId: place.owner },
    );
  }

  /**
   * The stored document an application read of `id` sees and the shard it was read at, or null when
   * `filter` does not match it. Other conditions than `_id` are decided by that shard on exactly the
   * version read (`{filter, _id, _v}`): a client-side test sees promoted JS values, where any number
   * is an `int`, a `long` and a `double` at once (issue 9: `$type`). A write between the read and the
   * check changes `_v`; the read then starts again. `value` is the document's shard-key value (`id`
   * itself when the shard key is `_id`).
   */
  async readMatching(view: RoutingView, id: ShardKey, filter: Filter<Document>, value: ShardKey): Promise<StoredDocument | null> {
    for (let attempt = 0; attempt < MAX_WRITE_RETRIES; attempt++) {
      const hit = await this.locate(view, id, value);
      if (hit === null) return null;
      // A filter of `_id` alone (every point read) matches what was read: no call, and no await on one.
      if (onlyKey(filter)) return hit.doc;
      const matches = await this.matchesAt(view, hit.shardId, filter, hit.doc);
      if (matches !== undefined) return matches ? hit.doc : null;
    }
    throw keptRacing(placeKey(view, id, value).owner, 'read', id);
  }

  /**
   * Whether `filter` matches the version of `doc` that `shardId` holds, decided by the shard; undefined
   * when that version is gone (a write changed it since). A filter of `_id` alone matches without a call.
   */
  async matchesAt(view: RoutingView, shardId: string, filter: Filter<Document>, doc: StoredDocument): Promise<boolean | undefined> {
    if (onlyKey(filter)) return true;
    const pinned = { _id: doc._id, _v: doc._v };
    const [match] = await this.#exec.callShard(view, shardId, (s) => s.find({ $and: [filter, pinned] }, { projection: { _id: 1 }, limit: 1 }));
    if (match !== undefined) return true;
    const current = await this.#exec.readAt(view, shardId, doc._id as ShardKey);
    return current !== null && current._v === doc._v ? false : undefined;
  }

  /** What an application read of `id` sees, with the shard that holds it (markers included), or null. */
  async locate(view: RoutingView, id: ShardKey, value: ShardKey): Promise<{ readonly doc: StoredDocument; readonly shardId: string } | null> {
    const place = placeKey(view, id, value);
    if (place.old === undefined) {
      const entry = entryKind(view, await this.#exec.readAt(view, place.owner, id));
      if (entry.kind === 'fence') throw moved(place.owner, `_id is fenced for migration epoch ${String(entry.epoch)}`);
      return entry.kind === 'live' ? { doc: entry.doc, shardId: place.owner } : null;
    }
    // Both owners are read at once (ADR 0002, "Reads of a moving key"): the new owner's answer decides
    // alone whenever it holds the key, and the old owner's is awaited only when it does not. Read one
    // after the other, a key not copied yet cost two round trips.
    const fromOld = this.#exec.readAt(view, place.old, id);
    // Awaited below unless the new owner decides; until then a failure must not count as unhandled.
    fromOld.catch(() => undefined);
    const atNew = entryKind(view, await this.#exec.readAt(view, place.owner, id));
    if (atNew.kind === 'live' || atNew.kind === 'tombstone') this.#atNew.note(view.epoch, id);
    if (atNew.kind === 'live') return { doc: atNew.doc, shardId: place.owner };
    if (atNew.kind === 'tombstone') return null;
    if (atNew.newer) throw moved(place.owner, `_id ${keyToString(id)} moved on at epoch ${String(atNew.epoch)}`);
    // A fence left at the new owner by an earlier migration is no copy: the old owner still has the data.
    let atOld = entryKind(view, await fromOld);
    // Nothing at the old owner may be an answer from before a writer took a relic at the new owner back
    // (ADR 0003: the relic's data goes to the old owner first, then the relic is deleted): read it again,
    // after the new owner, as one read after the other would have.
    if (!atOld.newer && !atOld.data && atOld.kind !== 'tombstone') atOld = entryKind(view, await this.#exec.readAt(view, place.old, id));
    if (atOld.newer) throw moved(place.old, `_id ${keyToString(id)} moved at epoch ${String(atOld.epoch)}`);
    if (atOld.data) {
      if (atOld.fenced) await this.#exec.confirmMigrating(view, place.old, id);
      return { doc: atOld.doc, shardId: place.old };
    }
    // A tombstone at the old owner is a delete, whatever a relic elsewhere still holds.
    if (atOld.kind === 'tombstone') return null;
    // Nothing (or a placeholder) at the old owner: a relic at the new one (an aborted migration's fence on
    // data that never reached the shard it was leaving for) still holds the latest data (ADR 0003).
    return atNew.data ? { doc: atNew.doc, shardId: place.owner } : null;
  }

  async #insert(view: RoutingView, place: KeyPlace, data: Document): Promise<OpOutcome> {
    const { id } = place;
    const doc: StoredDocument = { ...data, _id: id, _h: place.h, _v: 1 };
    if (place.old !== undefined) {
      // While the key moves, a live document at either owner is a duplicate, as on one server.
      const held = await prepareNewOwner(this.#exec, view, { ...place, old: place.old });
      switch (held.kind) {
        case 'live':
          throw duplicate(place.owner, id);
        case 'copied':
          throw duplicate(place.old, id);
        case 'tombstone':
          if (!(await replaceTombstone(this.#exec, view, place.owner, held.doc, doc))) {
            throw moved(place.owner, `tombstone of _id ${keyToString(id)} changed under the insert`);
          }
          return INSERTED_ONE;
        case 'free':
          break;
      }
    }
    await this.#insertAt(view, place.owner, id, doc);
    return INSERTED_ONE;
  }

  /** Insert at the shard that must hold the key; a duplicate there is resolved by what holds the `_id`. */
  async #insertAt(view: RoutingView, shardId: string, id: ShardKey, doc: StoredDocument): Promise<void> {
    for (let attempt = 0; attempt < MAX_WRITE_RETRIES; attempt++) {
      try {
        await this.#exec.callShard(view, shardId, (s) => s.insert(doc));
        return;
      } catch (error) {
        if (!isDuplicate(error)) throw error;
      }
      const current = entryKind(view, await this.#exec.readAt(view, shardId, id));
      switch (current.kind) {
        case 'absent':
          break;
        case 'live':
          throw duplicate(shardId, id);
        case 'tombstone':
          if (await replaceTombstone(this.#exec, view, shardId, current.doc, doc)) return;
          break;
        case 'leftover':
          await this.#clearLeftover(view, shardId, current.doc);
          break;
        case 'fence':
          throw moved(shardId, `_id ${keyToString(id)} is fenced (epoch ${String(current.epoch)})`);
      }
    }
    throw keptRacing(shardId, 'insert', id);
  }

  async #update(view: RoutingView, place: KeyPlace, filter: Filter<Document>, update: UpdateFilter<Document> | Document[], upsert: boolean): Promise<OpOutcome> {
    const { id } = place;
    if (place.old !== undefined) {
      const early = await this.#moving(view, { ...place, old: place.old }, (s) => s.updateOne(filter, update));
      if (early !== undefined) return early;
    }
    const keyed = upsert ? withKeyOnInsert(update, view.shardKey, place.value) : update;
    // The ring point goes with an upsert only: an update that cannot insert has no use for it.
    const sent = upsert ? withPoint(keyed, place.h) : keyed;
    return await this.#writeOne(
      view,
      place,
      filter,
      upsert,
      (s) => s.updateOne(filter, sent, { upsert }),
      () => ({ ...upsertDocument(filter, keyed, id), _id: id, _h: place.h, _v: 1 }),
    );
  }

  async #replace(view: RoutingView, place: KeyPlace, filter: Filter<Document>, replacement: Document, upsert: boolean): Promise<OpOutcome> {
    const { id } = place;
    const doc: StoredDocument = { ...replacement, _id: id, _h: place.h, _v: 1 };
    if (place.old !== undefined) {
      const early = await this.#moving(view, { ...place, old: place.old }, (s) => s.replaceOne(filter, doc));
      if (early !== undefined) return early;
    }
    return await this.#writeOne(view, place, filter, upsert, (s) => s.replaceOne(filter, doc, { upsert }), () => doc);
  }

  /**
   * An update or replace of a moving key (ADR 0002, decision 8): first at the old owner, which takes it
   * while it holds the key unfenced (neither the copier nor a router has taken the key yet, so the new
   * owner holds no copy of it, and the fence that comes later carries this write with the body): one
   * call where moving the key first took four. The new owner is read meanwhile: when the old owner turns
   * the write away (the key fenced or absent there, or the filter not matching it), the key is moved
   * from that read (`prepareNewOwner`) and undefined returned, for the caller to write at the new owner.
   * A key this router already found at the new owner is tried there first instead. Never an upsert's
   * insert: a document inserted at the old owner after the copy passed its range would be left behind.
   */
  async #moving(view: RoutingView, place: MovingPlace, write: (store: ShardStore) => Promise<WriteOutcome>): Promise<OpOutcome | undefined> {
    // A key already found at the new owner is written there first: one call, where the old owner would
    // turn the write away. The two are tried one after the other, never at once: a write the old owner
    // applied just before the copier fenced it travels with the copy, and must not apply again here.
    if (this.#atNew.has(view.epoch, place.id)) {
      const atNew = await this.#exec.callShard(view, place.owner, write);
      if (atNew.matched > 0) return applied(atNew);
    }
    const readNew = this.#exec.readAt(view, place.owner, place.id);
    // Used only when the old owner turns the write away; until then a failure must not count as unhandled.
    readNew.catch(() => undefined);
    const atOld = await this.#exec.callShard(view, place.old, write);
    if (atOld.matched > 0) return applied(atOld);
    const held = await prepareNewOwner(this.#exec, view, place, readNew);
    if (held.kind !== 'free') this.#atNew.note(view.epoch, place.id);
    return undefined;
  }

  /**
   * One conditional single-key write at its owner (an update or a replace). An upsert that meets a
   * duplicate looks at what holds the `_id` (`#upsertOver`); a write that matched nothing checks that
   * no fence turned it away.
   */
  async #writeOne(
    view: RoutingView,
    place: KeyPlace,
    filter: Filter<Document>,
    upsert: boolean,
    write: (store: ShardStore) => Promise<WriteOutcome>,
    upserted: () => StoredDocument,
  ): Promise<OpOutcome> {
    for (let attempt = 0; attempt < MAX_WRITE_RETRIES; attempt++) {
      let outcome: WriteOutcome;
      try {
        outcome = await this.#exec.callShard(view, place.owner, write);
      } catch (error) {
        if (!(upsert && isDuplicate(error))) throw error;
        const done = await this.#upsertOver(view, place, filter, upserted);
        if (done !== undefined) return done;
        continue;
      }
      if (outcome.matched === 0 && outcome.upsertedId === undefined) await this.#checkTurnedAway(view, place.owner, place.id);
      return {
        inserted: 0,
        matched: outcome.matched,
        modified: outcome.modified,
        deleted: 0,
        upserted: outcome.upsertedId === undefined ? 0 : 1,
        upsertedId: outcome.upsertedId,
      };
    }
    throw keptRacing(place.owner, 'upsert', place.id);
  }

  /**
   * After an upsert met a duplicate at the owner: a live document (a racing insert) or nothing means try
   * again (undefined); a leftover placeholder is cleared, then try again; a fence means "moved"; a
   * tombstone is replaced by the upserted document in one conditional call (undefined when it was gone).
   */
  async #upsertOver(view: RoutingView, place: KeyPlace, filter: Filter<Document>, upserted: () => StoredDocument): Promise<OpOutcome | undefined> {
    const current = entryKind(view, await this.#exec.readAt(view, place.owner, place.id));
    if (turnsAway(current)) throw moved(place.owner, `_id ${keyToString(place.id)} is fenced (epoch ${String(current.epoch)})`);
    // A live document the filter does not match: the upsert would insert a second document with its
    // `_id`, which the server answers with a duplicate-key error (E11000), and so do we. One it matches
    // is a racing insert: try again (the update will match it).
    if (current.kind === 'live' && (await this.matchesAt(view, place.owner, filter, current.doc)) === false) throw duplicate(place.owner, place.id);
    if (current.kind === 'leftover') await this.#clearLeftover(view, place.owner, current.doc);
    if (current.kind !== 'tombstone') return undefined;
    if (await replaceTombstone(this.#exec, view, place.owner, current.doc, upserted())) return { ...ZERO, upserted: 1, upsertedId: place.id };
    return undefined;
  }

  /** After a conditional write at `shardId` matched nothing: a fence there means "moved" (a leftover does not). */
  async #checkTurnedAway(view: RoutingView, shardId: string, id: ShardKey): Promise<void> {
    const entry = entryKind(view, await this.#exec.readAt(view, shardId, id));
    if (turnsAway(entry)) throw moved(shardId, `_id ${keyToString(id)} is fenced (epoch ${String(entry.epoch)})`);
  }

  async #delete(view: RoutingView, place: KeyPlace, filter: Filter<Document>): Promise<OpOutcome> {
    const { id } = place;
    if (place.old === undefined && !place.settling) {
      const deleted = await this.#exec.callShard(view, place.owner, (s) => s.deleteOne(filter));
      if (deleted === 0) await this.#checkTurnedAway(view, place.owner, id);
      return { inserted: 0, matched: 0, modified: 0, deleted, upserted: 0 };
    }
    // While migrating, make the new owner hold the key first. On a settling stable state the key moved
    // in the migration just committed: the old owner's fenced copy may still be in flight to us from a
    // router on the migrating state, so the delete must leave a tombstone for that copy to meet.
    if (place.old !== undefined) await prepareNewOwner(this.#exec, view, { ...place, old: place.old });
    return this.#deleteByTombstone(view, place, filter);
  }

  /** Delete by leaving a tombstone, conditioned on the version the filter matched (ADR 0003). */
  async #deleteByTombstone(view: RoutingView, place: KeyPlace, filter: Filter<Document>): Promise<OpOutcome> {
    const { owner: shardId, id } = place;
    for (let attempt = 0; attempt < MAX_WRITE_RETRIES; attempt++) {
      const current = entryKind(view, await this.#exec.readAt(view, shardId, id));
      if (current.kind === 'fence') throw moved(shardId, `_id ${keyToString(id)} is fenced (epoch ${String(current.epoch)})`);
      if (current.kind !== 'live') return ZERO;
      const matches = await this.matchesAt(view, shardId, filter, current.doc);
      if (matches === undefined) continue;
      if (!matches) return ZERO;
      // The tombstone, not an absence, is what keeps the old owner's fenced copy from coming back. It
      // replaces exactly the version the filter matched: a write that changed the document since is
      // not overwritten, and the next turn reads what it left (a fence there means "moved").
      // (A document stored without a numeric `_v`, which shardkit never writes, is tombstoned as found.)
      const version = typeof current.doc._v === 'number' ? current.doc._v : undefined;
      if (await this.#exec.callShard(view, shardId, (s) => s.tombstone(id, place.h, (version ?? 0) + 1, version))) return DELETED_ONE;
    }
    throw keptRacing(shardId, 'delete', id);
  }

  /**
   * Remove the leftover placeholder `marker` (`entryKind`'s `leftover`) so a write can take the key,
   * conditionally: only an entry with this `_id` that is still a placeholder with this exact fence epoch
   * is deleted. The caller then retries its own write, which the store still checks (insert fails on
   * any `_id`). Why no acknowledged write or delete is lost:
   * - the placeholder holds no data and no delete (a delete at the owner leaves nothing or a tombstone),
   *   so removing it removes nothing a reader could have seen: before and after, the key is absent;
   * - cleanup may delete the same placeholder at the same time: our delete then matches nothing and the
   *   retried write proceeds as it would after cleanup;
   * - another writer may take the key between our delete and our write: the write meets its live
   *   document (a duplicate, or a conditional update that matches it), as on one server;
   * - the entry may have changed since we read it (a newer placeholder, a document): the filter no longer
   *   matches, nothing is deleted, and the retried write meets the new entry and answers for it;
   * - a newer migration cannot rely on this placeholder as its fence (`fence` keeps an existing fence's
   *   epoch): a migration starts only once the previous one's journal is done, and its cleanup deletes
   *   every placeholder of its ranges at the targets first. While it runs, our view is not stable.
   */
  async #clearLeftover(view: RoutingView, shardId: string, marker: StoredDocument): Promise<void> {
    const h = marker._h;
    await this.#exec.callShard(view, shardId, (s) => s.deleteRange({ start: h - 1, end: h }, { _id: marker._id, _ph: true, _moved: marker._moved }, 1));
  }
}
