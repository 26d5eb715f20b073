import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../errors.js';
import { parseTopologyText } from './parse.js';
import type { TopologyFormat } from './parse.js';
import { redactUri } from '../redact.js';
import { DEFAULT_SHARD_KEY, shardKeyOf } from './shard-key.js';
import { validateShardId, validateTopologySpec, validateWeight } from './validate.js';
import type { HashName } from '../hash/types.js';
import type { Placement, ShardSpec, TopologyChange, TopologySpec } from './types.js';
import { invalidArgument } from '../arguments.js';

/** Plain (JSON-ready) copy of a shard, with optional fields left out when unset. */
function plainShard(shard: ShardSpec, redact: boolean): ShardSpec {
  const out: { -readonly [K in keyof ShardSpec]: ShardSpec[K] } = { id: shard.id, weight: shard.weight };
  if (shard.uri !== undefined) out.uri = redact ? redactUri(shard.uri) : shard.uri;
  if (shard.db !== undefined) out.db = shard.db;
  if (shard.draining === true) out.draining = true;
  if (shard.tokens !== undefined) out.tokens = [...shard.tokens];
  return out;
}

/**
 * An immutable, validated topology: which shards exist, their weights and where they live, and how
 * the ring is built from them. Instances are deeply frozen; every change returns a new instance with
 * `epoch + 1`, so a topology held by a router can never shift under it (after the MongoDB driver's
 * `TopologyDescription`).
 */
export class Topology implements TopologySpec {
  readonly name: string;
  readonly epoch: number;
  readonly hash: HashName;
  readonly vnodes: number;
  readonly placement: Placement;
  readonly shards: readonly ShardSpec[];
  /** The field path that routes documents (ADR 0008); `_id` when the topology names none. */
  readonly shardKey: string;
  readonly #byId: ReadonlyMap<string, ShardSpec>;

  private constructor(spec: TopologySpec) {
    this.name = spec.name;
    this.epoch = spec.epoch;
    this.hash = spec.hash;
    this.vnodes = spec.vnodes;
    this.placement = spec.placement;
    this.shards = spec.shards;
    this.shardKey = shardKeyOf(spec);
    this.#byId = new Map(spec.shards.map((s) => [s.id, s]));
    Object.freeze(this);
  }

  /**
   * Parse and validate topology text. `format` is detected from the text when omitted (`{` opens
   * JSON, anything else is YAML). Throws `shardkit.topology.parse` for unreadable text and the
   * validation codes of {@link Topology.from} for a readable but wrong topology.
   */
  static parse(text: string, format?: TopologyFormat): Topology {
    if (typeof text !== 'string') throw invalidArgument('Topology.parse(text): text', 'a string of JSON or YAML', text);
    return Topology.from(parseTopologyText(text, format));
  }

  /**
   * Validate a plain object (defaults filled) into a Topology; a Topology is returned as is.
   * Throws a {@link ShardkitInputError} whose code names the broken rule.
   */
  static from(input: Topology | unknown): Topology {
    if (input instanceof Topology) return input;
    return new Topology(validateTopologySpec(input));
  }

  /** The shard with this id, draining or not. */
  shard(id: string): ShardSpec | undefined {
    return this.#byId.get(id);
  }

  /** Shards that own part of the ring (not draining), in file order. */
  activeShards(): ShardSpec[] {
    return this.shards.filter((s) => s.draining !== true);
  }

  /**
   * A copy with one change applied and `epoch + 1`. Tokens are not chosen here (see
   * `applyChange` in `src/ring/placement.ts`): a reweight keeps the shard's tokens and an added
   * balanced shard without tokens gets none until placement fills them.
   */
  with(change: TopologyChange): Topology {
    if (!Number.isSafeInteger(this.epoch + 1)) {
      throw new ShardkitInputError(ErrorCode.topologyBadEpoch, `epoch ${this.epoch} cannot grow further`);
    }
    const shards = this.#apply(change);
    return Topology.from({ ...this.toJSON(), epoch: this.epoch + 1, shards });
  }

  #apply(change: TopologyChange): ShardSpec[] {
    const current = this.shards.map((s) => plainShard(s, false));
    const kind = (change as { kind?: unknown } | null)?.kind;
    switch (kind) {
      case 'add': {
        const shard = (change as { shard?: unknown }).shard;
        const id = validateShardId((shard as { id?: unknown } | undefined)?.id, 'new shard');
        if (this.#byId.has(id)) {
          throw new ShardkitInputError(ErrorCode.topologyDuplicateShard, `shard ${id} already exists`, { shardId: id });
        }
        return [...current, shard as ShardSpec];
      }
      case 'remove': {
        const { id } = change as { id: string };
        this.#require(id);
        const rest = current.filter((s) => s.id !== id);
        if (rest.length === 0) {
          throw new ShardkitInputError(ErrorCode.topologyNoShards, `cannot remove ${id}: it is the last shard`, { shardId: id });
        }
        return rest;
      }
      case 'reweight': {
        const { id, weight } = change as { id: string; weight: unknown };
        this.#require(id);
        const w = validateWeight(weight, `shard ${id}`);
        return current.map((s) => (s.id === id ? { ...s, weight: w } : s));
      }
      case 'drain': {
        const { id } = change as { id: string };
        if (this.#require(id).draining === true) {
          throw new ShardkitInputError(ErrorCode.topologyInvalid, `shard ${id} is already draining`, { shardId: id });
        }
        return current.map((s) => (s.id === id ? { ...s, draining: true } : s));
      }
      default:
        throw new ShardkitInvalidArgumentError(`unknown topology change ${JSON.stringify(kind)} (add, remove, reweight, drain)`);
    }
  }

  #require(id: unknown): ShardSpec {
    const shard = typeof id === 'string' ? this.#byId.get(id) : undefined;
    if (shard === undefined) {
      throw new ShardkitInputError(ErrorCode.topologyUnknownShard, `no shard ${JSON.stringify(id)} in topology ${this.name}`, {
        ...(typeof id === 'string' ? { shardId: id } : {}),
      });
    }
    return shard;
  }

  /**
   * A copy with the given shards' tokens replaced and the same epoch: placement fills tokens as part
   * of the change that bumped the epoch, so this is not a change of its own.
   */
  withTokens(tokensById: ReadonlyMap<string, readonly number[]>): Topology {
    for (const id of tokensById.keys()) this.#require(id);
    const shards = this.shards.map((s) => {
      const tokens = tokensById.get(s.id);
      return tokens === undefined ? plainShard(s, false) : { ...plainShard(s, false), tokens: [...tokens] };
    });
    return Topology.from({ ...this.toJSON(), shards });
  }

  /** The plain spec, ready for `JSON.stringify` or a config store. Includes URIs as given. */
  toJSON(): TopologySpec {
    return {
      name: this.name,
      epoch: this.epoch,
      hash: this.hash,
      vnodes: this.vnodes,
      placement: this.placement,
      shards: this.shards.map((s) => plainShard(s, false)),
      // `_id` is left out, so an `_id`-keyed topology serializes exactly as before shard keys existed.
      ...(this.shardKey === DEFAULT_SHARD_KEY ? {} : { shardKey: this.shardKey }),
    };
  }

  /** Like {@link Topology.toJSON} with every URI password replaced by `****`: the form to print. */
  redacted(): TopologySpec {
    return { ...this.toJSON(), shards: this.shards.map((s) => plainShard(s, true)) };
  }
}
