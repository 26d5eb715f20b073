/**
 * The one decision of the single-key protocol: what an entry read at a shard means for a router on a
 * given routing view. Every single-key path (read, insert, update/replace, delete, the bulk triage and
 * the scatter-gather's fence resolution) asks `entryKind` and switches on its answer, so the rules of
 * ADR 0002 (a fence newer than the view: "moved") and ADR 0003 (relics, leftover placeholders, fenced
 * tombstones) are stated once.
 */
import type { StoredDocument } from '../stores/shard-store.js';
import { fenceEpoch } from './documents.js';
import { hasData, isFence, isLive, isTombstone } from '../stores/markers.js';
import type { RoutingView } from './routing-view.js';

/** No entry with this `_id` at the shard. */
export interface AbsentEntry {
  readonly kind: 'absent';
  readonly doc: null;
  readonly epoch: 0;
  readonly newer: false;
  readonly older: false;
  readonly fenced: false;
  readonly data: false;
}

/**
 * An entry found at the shard, by what it means under the view:
 * - `live`: the application's document;
 * - `tombstone`: a delete recorded while a key moved (possibly fenced since: `fenced`);
 * - `leftover`: a placeholder under a stable view, fenced by an older epoch: a finished migration's
 *   remains that stand for no document (see {@link entryKind});
 * - `fence`: a fenced document (`data`) or a placeholder that is no leftover.
 */
export interface HeldEntry {
  readonly kind: 'live' | 'tombstone' | 'leftover' | 'fence';
  readonly doc: StoredDocument;
  /** The migration epoch the entry is fenced with (0 when unfenced or an unstamped placeholder). */
  readonly epoch: number;
  /** Fenced by a migration newer than the view: the router is behind and must refresh ("moved"). */
  readonly newer: boolean;
  /** Fenced (a fence or placeholder mark) by an epoch older than the view's: at a key's new owner, a relic. */
  readonly older: boolean;
  /** Carries a fence or placeholder mark. */
  readonly fenced: boolean;
  /** Holds application data (live or fenced; not a placeholder or tombstone). */
  readonly data: boolean;
}

/** What holds an `_id` at one shard, as {@link entryKind} decides it. */
export type Entry = AbsentEntry | HeldEntry;

const ABSENT: AbsentEntry = { kind: 'absent', doc: null, epoch: 0, newer: false, older: false, fenced: false, data: false };

/**
 * What `doc` (a raw read of one `_id` at a shard, markers included) means for a router on `view`.
 *
 * A placeholder at a key's owner under a stable view, fenced by an epoch older than the view's, is a
 * `leftover` of a finished migration awaiting cleanup, typically a placeholder the forward leg of an
 * aborted migration left at the original owner, which `stable(e+3)` names owner again (ADR 0003). It
 * is no "moved" signal: a migration this router has not seen fences with an epoch above the view's,
 * and a refresh cannot change anything (before this rule, every write on such a key ended in
 * `redirectLimit`). It stands for no document: under a stable state the owner is the only shard whose
 * entry counts (verify saw every moved key's entry there), and a placeholder holds no data. Only
 * placeholders: a fence with data at the owner is left alone (verify allows none, and if one were there
 * its data might be the latest, ADR 0003's relic case), so it stays a `fence`. Callers pass only
 * entries read at the key's owner when the view is stable.
 */
export function entryKind(view: RoutingView, doc: StoredDocument | null): Entry {
  if (doc === null) return ABSENT;
  const epoch = fenceEpoch(doc);
  const fenced = isFence(doc);
  let kind: HeldEntry['kind'];
  if (isLive(doc)) kind = 'live';
  else if (isTombstone(doc)) kind = 'tombstone';
  else if (view.state.phase === 'stable' && doc._ph === true && epoch < view.epoch) kind = 'leftover';
  else kind = 'fence';
  return { kind, doc, epoch, newer: epoch > view.epoch, older: fenced && epoch < view.epoch, fenced, data: hasData(doc) };
}

/**
 * A fence mark that turns conditional writes away (a fence, or a tombstone fenced since): a write that
 * found nothing to do at such an entry was refused, not answered. A leftover turns nothing away.
 */
export function turnsAway(entry: Entry): boolean {
  return entry.kind === 'fence' || (entry.kind === 'tombstone' && entry.fenced);
}
