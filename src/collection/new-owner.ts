/**
 * The migrating-phase half of a single-key write (ADR 0002: "write at the new owner after fencing at the
 * old"): before a router on `migrating(e)` writes a moving key at its new owner, it fences the key at the
 * old owner and copies what was there insert-if-absent. (An update or replace first tries the old owner,
 * which takes it while it holds the key unfenced: `KeyProtocol`, ADR 0002 decision 8.) A relic at the new owner (an aborted leg's fence
 * older than the view) is first taken back by the copier's own steps for that one key (ADR 0003, rules 1
 * and 2). Every entry met is judged by `entryKind`.
 */
import { keyToString } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import { idKey } from '../stores/bson-order.js';
import type { StoredDocument } from '../stores/shard-store.js';
import { copyForTarget } from './documents.js';
import { type Entry, entryKind } from './entry.js';
import type { RedirectExecutor } from './redirect-executor.js';
import type { KeyPlace, RoutingView } from './routing-view.js';
import { moved } from './shard-errors.js';

/** Where a key lives while it moves: `old` is its owner before the migration. */
export type MovingPlace = KeyPlace & { readonly old: string };

/**
 * What the new owner holds for a moving key once the old owner is fenced, for the caller to decide on:
 * - `live` / `tombstone`: the new owner already held the key (nothing was fenced);
 * - `copied`: the old owner held data, now fenced there and copied to the new owner;
 * - `free`: the key exists at neither owner (the old owner now holds a placeholder or a tombstone).
 */
export type NewOwnerHolds =
  | { readonly kind: 'live' | 'tombstone'; readonly doc: StoredDocument }
  | { readonly kind: 'copied' | 'free' };

const COPIED: NewOwnerHolds = { kind: 'copied' };
const FREE: NewOwnerHolds = { kind: 'free' };

/**
 * Make the new owner hold the key before a write there: fence it at the old owner, copy what was there
 * insert-if-absent. Updates, replaces and deletes then write at the new owner whatever this returns;
 * an insert fails as a duplicate on `live` (at the new owner) and `copied` (at the old one), replaces a
 * `tombstone`, and inserts on `free`. A fence at the new owner that is no relic means "moved".
 * `readNew` is the new owner's read when the caller started it already (it must precede the fence).
 */
export async function prepareNewOwner(
  exec: RedirectExecutor,
  view: RoutingView,
  place: MovingPlace,
  readNew: Promise<StoredDocument | null> = exec.readAt(view, place.owner, place.id),
): Promise<NewOwnerHolds> {
  const atNew = await takeBackRelic(exec, view, place, entryKind(view, await readNew));
  switch (atNew.kind) {
    case 'live':
    case 'tombstone':
      return { kind: atNew.kind, doc: atNew.doc };
    case 'absent':
      break;
    default:
      // Either a newer migration fenced it here, or an older one left a fence we cannot write over.
      throw moved(place.owner, `_id ${keyToString(place.id)} is fenced at the new owner (epoch ${String(atNew.epoch)})`);
  }
  const fenced = await fenceAtOld(exec, view, place);
  if (!fenced.data) return FREE;
  await exec.confirmMigrating(view, place.old, place.id);
  await exec.callShard(view, place.owner, (s) => s.insertIfAbsent([copyForTarget(fenced.doc)]));
  return COPIED;
}

/**
 * Take a relic at the new owner back before a write: PERFORMS writes at both owners. A relic is a fence
 * older than our epoch at the key's new owner: the new owner gave the key away in an earlier (aborted)
 * leg and takes it back now, before the reverse copier reached it (ADR 0003). Without this step such
 * writes would be answered "moved" until the copier came by. The steps are the copier's for one key:
 * 1. a relic with data that the old owner lacks is copied there first (rule 1), so the old owner holds
 *    the latest data and a reader that finds nothing at the new owner falls back to the right copy;
 * 2. the key is fenced at the old owner with our epoch: what it holds is final from now on;
 * 3. the relic (only a fence older than our epoch: never a write made on this epoch) is deleted and the
 *    old owner's entry installed insert-if-absent: its data, or its tombstone (a delete made while the
 *    key was away must stay a delete); a placeholder there means the key exists nowhere.
 * Between 3's delete and insert a reader finds nothing at the new owner and reads the old owner's
 * fenced, final copy. Returns the new owner's entry afterwards; anything but a relic comes back unchanged.
 */
async function takeBackRelic(exec: RedirectExecutor, view: RoutingView, place: MovingPlace, atNew: Entry): Promise<Entry> {
  if (!atNew.older) return atNew;
  // A relic is final (fenced), so reading it again with its exact BSON types reads the same entry,
  // unless purge removed it meanwhile, when the first read stands in.
  const relic = atNew.data ? ((await exec.readAt(view, place.owner, place.id, true)) ?? atNew.doc) : atNew.doc;
  // Insert-if-absent: whatever the old owner holds (newer data, a tombstone) wins.
  if (atNew.data) await exec.callShard(view, place.old, (s) => s.insertIfAbsent([copyForTarget(relic)]));
  const final = await fenceAtOld(exec, view, place);
  const h = typeof relic._h === 'number' ? relic._h : place.h;
  await exec.callShard(view, place.owner, (s) => s.deleteRange({ start: h - 1, end: h }, { _id: place.id, _moved: { $lt: view.epoch } }, 1));
  if (final.data) {
    await exec.callShard(view, place.owner, (s) => s.insertIfAbsent([copyForTarget(final.doc)]));
  } else if (final.kind === 'tombstone') {
    const tomb = final.doc;
    await exec.callShard(view, place.owner, (s) => s.insertIfAbsent([{ _id: tomb._id, _h: tomb._h, _v: tomb._v, _ts: true }]));
  }
  return entryKind(view, await exec.readAt(view, place.owner, place.id));
}

/** Fence the key at its old owner with the view's epoch; what the old owner holds is final from then on. */
async function fenceAtOld(exec: RedirectExecutor, view: RoutingView, place: MovingPlace): Promise<Entry> {
  const [fenced] = await exec.callShard(view, place.old, (s) => s.fence([{ id: place.id, h: place.h }], view.epoch));
  const entry = entryKind(view, fenced ?? null);
  if (entry.newer) {
    throw moved(place.old, `_id ${keyToString(place.id)} was fenced by a newer migration (epoch ${String(entry.epoch)})`);
  }
  return entry;
}

/**
 * Moving keys a router found at their new owner during one migrating epoch (ADR 0002, decision 8): the
 * new owner's entry never goes back within an epoch (decision 7), so a later update of such a key is
 * sent there first, one call instead of a turned-away write at the old owner and then one at the new.
 * A hint only: the write at the new owner is conditional like any, and one that matches nothing goes
 * the usual way. Bounded: forgotten when it fills up, and when the epoch changes.
 */
export class NewOwnerHints {
  readonly #max: number;
  readonly #keys = new Set<string>();
  #epoch = -1;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /** Note that `id` was found at its new owner under the migrating state of `epoch`. */
  note(epoch: number, id: ShardKey): void {
    if (epoch !== this.#epoch || this.#keys.size >= this.#max) {
      this.#keys.clear();
      this.#epoch = epoch;
    }
    this.#keys.add(idKey(id));
  }

  /** Whether `id` was found at its new owner under the migrating state of `epoch`. */
  has(epoch: number, id: ShardKey): boolean {
    return epoch === this.#epoch && this.#keys.has(idKey(id));
  }
}
