import type { KeySet } from './keys.js';

/** One shard as the lab sees it: an id and a relative capacity. */
export interface LabShard {
  readonly id: string;
  /** Relative capacity; finite, > 0. */
  readonly weight: number;
}

/**
 * One change a scheme is asked to express. A failure is a `remove` and a recovery an `add` of the
 * same id and weight: what differs between schemes is whether the recovered shard gets its old keys
 * back.
 */
export type LabChange =
  | { readonly kind: 'add'; readonly id: string; readonly weight: number }
  | { readonly kind: 'remove'; readonly id: string }
  | { readonly kind: 'reweight'; readonly id: string; readonly weight: number };

/** One step of a workload: the changes made together, measured after the last one. */
export interface LabStep {
  /** Short name printed in tables and charts (`add:s5`, `fail:s3`, `topology 3`). */
  readonly label: string;
  readonly changes: readonly LabChange[];
}

/** A topology history: the shards to start from and the steps applied to them in order. */
export interface Workload {
  /** The spec it came from (`grow:4..64+churn:16`, `file:ops.yaml`). */
  readonly spec: string;
  readonly initial: readonly LabShard[];
  readonly steps: readonly LabStep[];
}

/** How a scheme expressed a change. */
export const Expressed = {
  /** The scheme has the operation. */
  native: 'native',
  /** The scheme lacks it; the lab emulated it, at a cost the step's figures show. */
  emulated: 'emulated',
  /** The scheme cannot express it at all (jump hash has no weights): nothing changed. */
  ignored: 'ignored',
} as const;
/** Union of {@link Expressed} values. */
export type Expressed = (typeof Expressed)[keyof typeof Expressed];

/** A scheme after a change, with how it expressed the change. */
export interface Applied {
  readonly scheme: Scheme;
  readonly how: Expressed;
  /** Why a change was emulated or ignored, for the report. */
  readonly note?: string;
}

/**
 * A placement scheme: maps keys to shards and expresses topology changes. Instances are immutable:
 * {@link Scheme.apply} returns a new one, so the runner can compare a scheme before and after.
 */
export interface Scheme {
  /** Name as given to `--schemes`. */
  readonly name: string;
  /** Shards that own keys, with their weights. */
  readonly shards: readonly LabShard[];
  /**
   * Owner id of every key of `keys`, in key order. A stateful scheme (bounded loads) places the
   * keys one after the other in that order.
   */
  assign(keys: KeySet): string[];
  /** Owner of one key, for lookup benchmarks. */
  lookup(key: string): string;
  /** The scheme after `change`; a change it cannot express natively is emulated or ignored. */
  apply(change: LabChange): Applied;
  /**
   * Exact share of the hash space per shard (sums to 1) when the scheme's structure defines one
   * (ring arcs, table entries); `undefined` when only sampling keys can tell.
   */
  exactShares(): ReadonlyMap<string, number> | undefined;
  /**
   * Exact fraction of the hash space whose owner differs from `before` (an earlier state of the
   * same scheme), or `undefined` when only sampling keys can tell.
   */
  exactMoved(before: Scheme): number | undefined;
  /** Bytes of routing state a router would hold (typed arrays, per-shard records). */
  byteSize(): number;
}

/** Tunables shared by every scheme factory. */
export interface SchemeParams {
  /** Ring points per unit weight (hashed, balanced, bounded loads); ketama/hashring get a quarter of it in md5 digests. */
  readonly vnodes: number;
  /** Maglev table size, a prime. */
  readonly maglevSize: number;
  /** Bounded loads: capacity factor c >= 1; a shard holds at most ceil(c * its fair share of keys). */
  readonly loadFactor: number;
  /** Multi-probe: probes per key. */
  readonly probes: number;
}

/** Defaults of {@link SchemeParams}: libketama's 160 points, the Maglev paper's 65537, c = 1.25, 21 probes (epsilon = 0.05). */
export const DEFAULT_SCHEME_PARAMS: SchemeParams = Object.freeze({ vnodes: 160, maglevSize: 65537, loadFactor: 1.25, probes: 21 });
