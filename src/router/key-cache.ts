import { ShardkitInvalidArgumentError } from '../errors.js';

/** Largest capacity: slots are addressed by a uint32 and keys live in one JS array. */
export const MAX_KEY_CACHE_SIZE = 2 ** 24;

/**
 * A fixed-capacity string -> shard-index cache with CLOCK (second-chance) eviction: an
 * approximation of LRU built for the router's hot path.
 *
 * Why not lru-cache: measured on this project's machine (bench/routing.ts), a hit in lru-cache 11
 * costs about 2.5x a bare `Map.get` (its `get` allocates an options object per call and relinks a
 * doubly linked list), which alone would make a cached hot lookup no faster than hashring's; a miss
 * on a full lru-cache cost ~40% more than here. A CLOCK hit is one `Map.get` and one byte store;
 * eviction walks a reference-bit array. Keys are admitted only on their second sighting
 * (the router's doorkeeper), and a new entry starts unreferenced, so a one-off key that slips
 * through is the first to go.
 *
 * Any string is a safe key, `__proto__` included (a `Map`, never an object).
 */
export class KeyCache {
  readonly #map = new Map<string, number>();
  readonly #keys: Array<string | undefined>;
  readonly #values: Uint16Array;
  readonly #ref: Uint8Array;
  readonly #capacity: number;
  #hand = 0;
  #used = 0;

  /**
   * @param capacity most entries held, an integer in 1..{@link MAX_KEY_CACHE_SIZE}
   * @throws ShardkitInvalidArgumentError for any other capacity
   */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > MAX_KEY_CACHE_SIZE) {
      throw new ShardkitInvalidArgumentError(`cache capacity must be an integer in 1..${MAX_KEY_CACHE_SIZE} (got ${String(capacity)})`);
    }
    this.#capacity = capacity;
    this.#keys = new Array<string | undefined>(capacity).fill(undefined);
    this.#values = new Uint16Array(capacity);
    this.#ref = new Uint8Array(capacity);
  }

  /** Most entries held. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Entries held now. */
  get size(): number {
    return this.#map.size;
  }

  /** The value cached for `key`, marking it recently used; `undefined` when absent. */
  get(key: string): number | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    this.#ref[slot] = 1;
    return this.#values[slot];
  }

  /**
   * Cache `value` (a uint16) for `key`, evicting the first unreferenced entry under the clock hand
   * when full. Setting a key already present replaces its value.
   */
  set(key: string, value: number): void {
    const present = this.#map.get(key);
    if (present !== undefined) {
      this.#values[present] = value;
      return;
    }
    let slot: number;
    if (this.#used < this.#capacity) {
      slot = this.#used++;
    } else {
      const ref = this.#ref;
      const cap = this.#capacity;
      let hand = this.#hand;
      // Terminates within two turns: each referenced slot passed is cleared.
      while (ref[hand] === 1) {
        ref[hand] = 0;
        hand = hand + 1 === cap ? 0 : hand + 1;
      }
      slot = hand;
      this.#hand = hand + 1 === cap ? 0 : hand + 1;
      this.#map.delete(this.#keys[slot]!);
    }
    this.#keys[slot] = key;
    this.#values[slot] = value;
    this.#ref[slot] = 0;
    this.#map.set(key, slot);
  }

  /** Drop every entry. */
  clear(): void {
    this.#map.clear();
    this.#keys.fill(undefined);
    this.#ref.fill(0);
    this.#hand = 0;
    this.#used = 0;
  }
}
