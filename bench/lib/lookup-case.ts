import type { Case } from './timing.js';

/**
 * A benchmark case doing `batch` lookups over `keys` (cycled; the length must be a power of two).
 * Each case gets its own compiled loop (a fresh Function) so its call site stays monomorphic: a
 * loop shared by every case would make `lookup` megamorphic and charge each case the dispatch of
 * all the others.
 */
export function lookupCase(name: string, keys: readonly string[], lookup: (k: string) => unknown, batch: number): Case {
  const n = keys.length;
  if ((n & (n - 1)) !== 0) throw new Error(`${name}: key count ${n} is not a power of two`);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(
    'lookup',
    'keys',
    `let i = 0; let sink = 0;
     return function batch() {
       for (let j = 0; j < ${batch}; j++) {
         if (lookup(keys[i]) === undefined) sink++;
         i = (i + 1) & ${n - 1};
       }
       return sink;
     };`,
  ) as (l: (k: string) => unknown, k: readonly string[]) => () => number;
  return { name, batch, fn: factory(lookup, keys) };
}
