/**
 * The in-place fast path of `MemoryStore` updates: `$set`, `$inc` and `$unset` on plain paths
 * without going through mingo, which costs a copy of the document per update.
 */
import type { Document } from 'mongodb';

/** A document in the JS sense: an object literal (or null-prototype object), not an array, BSON value, date or buffer. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Apply `$set`, `$inc` and `$unset` in place when every path runs through plain objects (no array
 * element, no positional operator) and every `$inc` meets a number or nothing; returns false, having
 * changed nothing, when mingo must handle the modifier.
 */
export function applySimpleUpdate(doc: Document, modifier: Document): boolean {
  const steps: Array<() => void> = [];
  const seen = new Set<string>();
  for (const [op, fields] of Object.entries(modifier)) {
    if ((op !== '$set' && op !== '$inc' && op !== '$unset') || !isPlainObject(fields)) return false;
    for (const [path, value] of Object.entries(fields)) {
      if (path.length === 0 || path.includes('$') || seen.has(path)) return false;
      seen.add(path);
      const parts = path.split('.');
      if (parts.some((p) => p.length === 0 || /^\d+$/.test(p))) return false;
      let parent: Record<string, unknown> = doc;
      for (const part of parts.slice(0, -1)) {
        const next = parent[part];
        if (next === undefined && op !== '$unset') {
          // Created on apply; nothing below it can conflict.
          parent = {};
          break;
        }
        if (!isPlainObject(next)) {
          if (next === undefined) break;
          return false;
        }
        parent = next;
      }
      const leaf = parts[parts.length - 1] as string;
      if (op === '$inc') {
        if (typeof value !== 'number') return false;
        const current = parts.length === 1 ? doc[leaf] : undefined;
        if (parts.length > 1 || (current !== undefined && typeof current !== 'number')) return false;
      }
      steps.push(() => {
        let at: Record<string, unknown> = doc;
        for (const part of parts.slice(0, -1)) {
          if (!isPlainObject(at[part])) {
            if (op === '$unset') return;
            at[part] = {};
          }
          at = at[part] as Record<string, unknown>;
        }
        if (op === '$set') at[leaf] = value;
        else if (op === '$unset') delete at[leaf];
        else at[leaf] = ((at[leaf] as number | undefined) ?? 0) + (value as number);
      });
    }
  }
  // Conflicting paths (`a` and `a.b`) are a server error; leave those to mingo's checks.
  const paths = [...seen];
  if (paths.some((a) => paths.some((b) => a !== b && b.startsWith(`${a}.`)))) return false;
  for (const step of steps) step();
  return true;
}
