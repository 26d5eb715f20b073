import { ErrorCode, ShardkitInputError } from '../errors.js';
import { ringHash } from '../hash/registry.js';
import type { HashName } from '../hash/types.js';
import { xxhash32String } from '../hash/xxhash32.js';

/** Seed of the second 32-bit key hash: jump hash takes 64 bits, probes and scores mix in both. */
export const SECOND_SEED = 0x9e3779b9;

/**
 * The keys a lab run places: distinct strings, each with a load weight (its request share: 1 for
 * uniform keys, `1/(rank+1)^s` for Zipf, its count in a key file). Hashes are computed once and
 * shared by every scheme and step.
 */
export class KeySet {
  /** How the keys were made (`uniform`, `zipf:1.1`, `file:keys.txt`). */
  readonly kind: string;
  readonly keys: readonly string[];
  /** Load weight of each key. */
  readonly weights: Float64Array;
  readonly totalWeight: number;
  /** True when every key weighs the same: load then equals key count, and exact shares apply. */
  readonly uniform: boolean;
  /** xxhash32 (seed 0) of each key: the `xxhash32` ring point. */
  readonly h1: Uint32Array;
  /** xxhash32 with a second seed: the high word of jump hash's 64-bit key, the probe step. */
  readonly h2: Uint32Array;
  readonly #points = new Map<HashName, Uint32Array>();

  constructor(kind: string, keys: readonly string[], weights?: Float64Array) {
    if (keys.length === 0) throw new ShardkitInputError(ErrorCode.usage, `no keys in ${kind}`);
    if (weights !== undefined && weights.length !== keys.length) throw new ShardkitInputError(ErrorCode.usage, 'one weight per key');
    this.kind = kind;
    this.keys = keys;
    this.weights = weights ?? new Float64Array(keys.length).fill(1);
    this.totalWeight = this.weights.reduce((a, b) => a + b, 0);
    this.uniform = this.weights.every((w) => w === this.weights[0]);
    this.h1 = new Uint32Array(keys.length);
    this.h2 = new Uint32Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      this.h1[i] = xxhash32String(keys[i]!);
      this.h2[i] = xxhash32String(keys[i]!, SECOND_SEED);
    }
    this.#points.set('xxhash32', this.h1);
  }

  get size(): number {
    return this.keys.length;
  }

  /** Ring points of every key under `hash`, computed on first use (md5 for ketama is the slow one). */
  points(hash: HashName): Uint32Array {
    let pts = this.#points.get(hash);
    if (pts === undefined) {
      const h = ringHash(hash);
      pts = Uint32Array.from(this.keys, (k) => h.pointOfString(k));
      this.#points.set(hash, pts);
    }
    return pts;
  }
}

/** `count` distinct keys `key:0`, `key:1`, … of equal weight. */
export function uniformKeys(count: number): KeySet {
  return new KeySet('uniform', Array.from({ length: count }, (_, i) => `key:${i}`));
}

/**
 * `count` distinct keys whose load follows Zipf(s): key `r` weighs `1/(r+1)^s`. The weights are the
 * distribution itself, not a sample of it, so the figures carry no sampling noise from the draw.
 */
export function zipfKeys(count: number, s: number): KeySet {
  const weights = new Float64Array(count);
  for (let r = 0; r < count; r++) weights[r] = 1 / Math.pow(r + 1, s);
  return new KeySet(`zipf:${s}`, Array.from({ length: count }, (_, i) => `key:${i}`), weights);
}

/**
 * Keys from a text file, one a line (blank lines skipped); a key seen n times weighs n, so an access
 * log works as well as a key dump. At most `limit` distinct keys are kept, in first-seen order.
 */
export function keysFromText(name: string, text: string, limit: number): KeySet {
  const counts = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const key = raw.trim();
    if (key === '') continue;
    const n = counts.get(key);
    if (n !== undefined) counts.set(key, n + 1);
    else if (counts.size < limit) counts.set(key, 1);
  }
  return new KeySet(`file:${name}`, [...counts.keys()], Float64Array.from(counts.values()));
}

/** A parsed `--keys` value. */
export type KeySpec = { readonly kind: 'uniform' } | { readonly kind: 'zipf'; readonly s: number } | { readonly kind: 'file'; readonly path: string };

/** Parse `--keys`: `uniform`, `zipf:S` (S > 0) or `file:PATH`; a usage error otherwise. */
export function parseKeySpec(text: string): KeySpec {
  if (text === 'uniform') return { kind: 'uniform' };
  const zipf = /^zipf:(.+)$/.exec(text);
  if (zipf !== null) {
    const s = Number(zipf[1]);
    if (!Number.isFinite(s) || s <= 0 || s > 10) throw new ShardkitInputError(ErrorCode.usage, `--keys zipf:S needs 0 < S <= 10 (got ${JSON.stringify(zipf[1])})`);
    return { kind: 'zipf', s };
  }
  if (text.startsWith('file:') && text.length > 5) return { kind: 'file', path: text.slice(5) };
  throw new ShardkitInputError(ErrorCode.usage, `--keys: cannot read ${JSON.stringify(text)} (uniform, zipf:S, file:PATH)`);
}
