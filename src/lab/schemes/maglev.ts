import { ShardkitInvalidArgumentError } from '../../errors.js';
import { xxhash32String } from '../../hash/xxhash32.js';
import type { KeySet } from '../keys.js';
import { changeShards } from '../shards.js';
import type { Applied, LabChange, LabShard, Scheme } from '../types.js';

const OFFSET_SEED = 0x4d61676c;
const SKIP_SEED = 0x65763136;

/** True for a prime `n` (trial division: table sizes are at most a few million). */
export function isPrime(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * A backend's preference list in the paper's form: `offset = h1(id) mod M`,
 * `skip = h2(id) mod (M - 1) + 1`, `permutation[j] = (offset + j * skip) mod M`. With `M` prime
 * every skip is coprime to `M`, so the list is a permutation of the table's slots.
 */
export function maglevPermutation(id: string, size: number): { offset: number; skip: number } {
  return { offset: xxhash32String(id, OFFSET_SEED) % size, skip: (xxhash32String(id, SKIP_SEED) % (size - 1)) + 1 };
}

/**
 * Fill a Maglev lookup table (Eisenbud et al., NSDI 2016, section 3.4): backends take turns, each
 * claiming the next slot of its permutation that is still empty, until every slot is taken.
 * Weights set how often a backend's turn comes: per round a backend earns `w / max(w)` turns and
 * takes one whenever its credit reaches 1, so with equal weights this is the paper's loop exactly
 * and every backend ends with `floor(M/N)` or `ceil(M/N)` slots. Backends are taken in id order,
 * so the table does not depend on the order they were listed in.
 */
export function maglevTable(shards: readonly LabShard[], size: number): Uint16Array {
  if (!isPrime(size)) throw new ShardkitInvalidArgumentError(`the Maglev table size must be a prime (got ${size})`);
  if (shards.length === 0 || shards.length > 0xffff) throw new ShardkitInvalidArgumentError(`Maglev needs 1..65535 backends (got ${shards.length})`);
  const order = shards.map((s, i) => ({ s, i })).sort((a, b) => (a.s.id < b.s.id ? -1 : a.s.id > b.s.id ? 1 : 0));
  const n = order.length;
  const offset = new Float64Array(n);
  const skip = new Float64Array(n);
  const next = new Float64Array(n);
  const credit = new Float64Array(n);
  const maxWeight = Math.max(...shards.map((s) => s.weight));
  order.forEach(({ s }, k) => {
    const p = maglevPermutation(s.id, size);
    offset[k] = p.offset;
    skip[k] = p.skip;
  });
  const table = new Uint16Array(size).fill(0xffff);
  let filled = 0;
  while (filled < size) {
    for (let k = 0; k < n && filled < size; k++) {
      credit[k]! += order[k]!.s.weight / maxWeight;
      if (credit[k]! < 1) continue;
      credit[k]! -= 1;
      let c = (offset[k]! + next[k]! * skip[k]!) % size;
      while (table[c] !== 0xffff) {
        next[k]!++;
        c = (offset[k]! + next[k]! * skip[k]!) % size;
      }
      table[c] = order[k]!.i;
      next[k]!++;
      filled++;
    }
  }
  return table;
}

/**
 * Maglev hashing as a lab scheme: a key goes to `table[h(key) mod M]`. Every change rebuilds the
 * table, which is native to Maglev; it moves a little more than the minimum (slots shift between
 * surviving backends too), the price of near-perfect balance with O(1) lookups. Shares and
 * movement are exact over the table's slots.
 */
export class MaglevScheme implements Scheme {
  readonly name = 'maglev';
  readonly shards: readonly LabShard[];
  readonly size: number;
  readonly table: Uint16Array;

  constructor(shards: readonly LabShard[], size: number) {
    this.shards = shards;
    this.size = size;
    this.table = maglevTable(shards, size);
  }

  assign(keys: KeySet): string[] {
    const out = new Array<string>(keys.size);
    const ids = this.shards.map((s) => s.id);
    for (let i = 0; i < keys.size; i++) out[i] = ids[this.table[keys.h1[i]! % this.size]!]!;
    return out;
  }

  lookup(key: string): string {
    return this.shards[this.table[xxhash32String(key) % this.size]!]!.id;
  }

  apply(change: LabChange): Applied {
    return { scheme: new MaglevScheme(changeShards(this.shards, change), this.size), how: 'native' };
  }

  exactShares(): Map<string, number> {
    const counts = new Float64Array(this.shards.length);
    for (const owner of this.table) counts[owner]!++;
    return new Map(this.shards.map((s, i) => [s.id, counts[i]! / this.size]));
  }

  exactMoved(before: Scheme): number | undefined {
    if (!(before instanceof MaglevScheme) || before.size !== this.size) return undefined;
    let moved = 0;
    for (let c = 0; c < this.size; c++) if (before.shards[before.table[c]!]!.id !== this.shards[this.table[c]!]!.id) moved++;
    return moved / this.size;
  }

  byteSize(): number {
    return this.table.byteLength;
  }
}
