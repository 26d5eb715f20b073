import { KeySet, uniformKeys } from '../../../src/lab/keys.js';
import type { LabShard, Scheme, SchemeParams } from '../../../src/lab/types.js';
import { DEFAULT_SCHEME_PARAMS } from '../../../src/lab/types.js';

/** `n` shards `s1..sn`, weight 1 unless `weight(i)` says otherwise. */
export function shards(n: number, weight: (i: number) => number = () => 1): LabShard[] {
  return Array.from({ length: n }, (_, i) => ({ id: `s${i + 1}`, weight: weight(i) }));
}

/** Shared key sets: hashing 20k keys once keeps the lab's tests fast. */
export const KEYS_20K: KeySet = uniformKeys(20_000);

/** Default parameters with overrides. */
export function params(overrides: Partial<SchemeParams> = {}): SchemeParams {
  return { ...DEFAULT_SCHEME_PARAMS, ...overrides };
}

/** Keys per shard id of an assignment. */
export function counts(owners: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const o of owners) out.set(o, (out.get(o) ?? 0) + 1);
  return out;
}

/**
 * What a change did to the keys: how many moved, and whether every moved key went to or came from
 * `id` (the defining property of a consistent scheme's single-shard change).
 */
export function movement(before: Scheme, after: Scheme, keys: KeySet, id: string): { moved: number; onlyTouching: boolean; movedTo: Map<string, number> } {
  const a = before.assign(keys);
  const b = after.assign(keys);
  let moved = 0;
  let onlyTouching = true;
  const movedTo = new Map<string, number>();
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    moved++;
    movedTo.set(b[i]!, (movedTo.get(b[i]!) ?? 0) + 1);
    if (a[i] !== id && b[i] !== id) onlyTouching = false;
  }
  return { moved, onlyTouching, movedTo };
}
