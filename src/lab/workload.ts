import { ErrorCode, ShardkitInputError } from '../errors.js';
import { validateShardId, validateWeight } from '../topology/validate.js';
import type { LabChange, LabShard, LabStep, Workload } from './types.js';
import { mulberry32 } from './zipf.js';

/** The standard workload of docs/lab.md: grow 4 -> 64 shards one at a time, then 16 churn steps. */
export const STANDARD_WORKLOAD = 'grow:4..64+churn:16';

/** Shards a generated workload starts with when its first part does not say (churn, reweight, fail). */
export const DEFAULT_START_SHARDS = 16;

/** Largest shard count a generated workload may reach. */
export const MAX_LAB_SHARDS = 1024;

function usage(message: string): ShardkitInputError {
  return new ShardkitInputError(ErrorCode.usage, message);
}

/**
 * Builds a workload step by step while tracking the live shard set, so every change is checked
 * (no removing an unknown shard, no adding one twice) and generators can pick from the live set.
 */
export class WorkloadBuilder {
  readonly #shards = new Map<string, number>();
  readonly #failed = new Map<string, number>();
  readonly #steps: LabStep[] = [];
  readonly #initial: LabShard[];
  readonly #rand: () => number;
  #nextId = 1;

  constructor(initial: readonly LabShard[], seed = 1) {
    if (initial.length === 0) throw usage('a workload needs at least one shard to start with');
    for (const s of initial) {
      const id = validateShardId(s.id);
      if (this.#shards.has(id)) throw new ShardkitInputError(ErrorCode.topologyDuplicateShard, `shard ${id} is listed twice`);
      this.#shards.set(id, validateWeight(s.weight, `shard ${id}`));
    }
    this.#initial = initial.map((s) => ({ id: s.id, weight: s.weight }));
    this.#rand = mulberry32(seed);
  }

  /** Live shard ids, in join order. */
  get ids(): string[] {
    return [...this.#shards.keys()];
  }

  /** A shard id never used in this workload: `s<n>`. */
  freshId(): string {
    let id = `s${this.#nextId++}`;
    while (this.#shards.has(id) || this.#failed.has(id)) id = `s${this.#nextId++}`;
    return id;
  }

  /** A live shard id chosen by the workload's seeded generator. */
  pick(): string {
    const ids = this.ids;
    return ids[Math.floor(this.#rand() * ids.length)]!;
  }

  /** A seeded uniform draw in [0, 1). */
  random(): number {
    return this.#rand();
  }

  /** Append a step after checking each change against the live set. */
  step(label: string, changes: readonly LabChange[]): this {
    for (const c of changes) this.#check(c);
    if (changes.length > 0) this.#steps.push({ label, changes });
    return this;
  }

  /** Remove `id` as a failure; {@link recover} brings it back with the same weight. */
  fail(id: string): this {
    const weight = this.#shards.get(id);
    this.step(`fail:${id}`, [{ kind: 'remove', id }]);
    this.#failed.set(id, weight!);
    return this;
  }

  /** Bring a failed shard back with the weight it had. */
  recover(id: string): this {
    const weight = this.#failed.get(id);
    if (weight === undefined) throw new ShardkitInputError(ErrorCode.topologyUnknownShard, `recover:${id}: ${id} has not failed`);
    this.#failed.delete(id);
    return this.step(`recover:${id}`, [{ kind: 'add', id, weight }]);
  }

  #check(c: LabChange): void {
    const known = this.#shards.has(c.id);
    if (c.kind === 'add') {
      validateShardId(c.id);
      if (known) throw new ShardkitInputError(ErrorCode.topologyDuplicateShard, `add:${c.id}: shard ${c.id} already exists`);
      if (this.#shards.size >= MAX_LAB_SHARDS) throw usage(`a workload may have at most ${MAX_LAB_SHARDS} shards`);
      this.#shards.set(c.id, validateWeight(c.weight, `shard ${c.id}`));
      return;
    }
    if (!known) throw new ShardkitInputError(ErrorCode.topologyUnknownShard, `${c.kind}:${c.id}: no shard ${c.id}`);
    if (c.kind === 'remove') {
      if (this.#shards.size === 1) throw new ShardkitInputError(ErrorCode.topologyNoShards, `remove:${c.id}: it is the last shard`);
      this.#shards.delete(c.id);
    } else {
      this.#shards.set(c.id, validateWeight(c.weight, `shard ${c.id}`));
    }
  }

  build(spec: string): Workload {
    return { spec, initial: this.#initial, steps: [...this.#steps] };
  }
}

function equalShards(count: number): LabShard[] {
  return Array.from({ length: count }, (_, i) => ({ id: `s${i + 1}`, weight: 1 }));
}

function range(part: string, body: string | undefined): [number, number] {
  const m = /^(\d+)\.\.(\d+)$/.exec(body ?? '');
  const a = Number(m?.[1]);
  const b = Number(m?.[2]);
  if (m === null || a < 1 || b < 1 || a > MAX_LAB_SHARDS || b > MAX_LAB_SHARDS) {
    throw usage(`--workload: ${part} needs a range A..B of shard counts in 1..${MAX_LAB_SHARDS}`);
  }
  return [a, b];
}

function count(part: string, body: string | undefined, fallback: number): number {
  if (body === undefined) return fallback;
  const n = Number(body);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw usage(`--workload: ${part} needs a step count in 1..10000`);
  return n;
}

const WEIGHTS = [0.5, 1, 1.5, 2, 3];

/** Adds the steps of one generated part (`grow:A..B`, `churn:N`, …) to `b`. */
function generate(b: WorkloadBuilder, verb: string, part: string, body: string | undefined): void {
  switch (verb) {
    case 'grow': {
      const [from, to] = range(part, body);
      if (to < b.ids.length || from > to) throw usage(`--workload: ${part} must grow (from ${b.ids.length} shards)`);
      while (b.ids.length < to) {
        const id = b.freshId();
        b.step(`add:${id}`, [{ kind: 'add', id, weight: 1 }]);
      }
      return;
    }
    case 'shrink': {
      const [from, to] = range(part, body);
      if (to > b.ids.length || from < to) throw usage(`--workload: ${part} must shrink (from ${b.ids.length} shards)`);
      while (b.ids.length > to) {
        const id = b.pick();
        b.step(`remove:${id}`, [{ kind: 'remove', id }]);
      }
      return;
    }
    case 'churn':
      for (let i = count(part, body, 16); i > 0; i--) {
        // Alternate: a random shard leaves, then a new one joins, so the count stays level.
        if (i % 2 === 0 && b.ids.length > 1) {
          const id = b.pick();
          b.step(`remove:${id}`, [{ kind: 'remove', id }]);
        } else {
          const id = b.freshId();
          b.step(`add:${id}`, [{ kind: 'add', id, weight: 1 }]);
        }
      }
      return;
    case 'reweight':
      for (let i = count(part, body, 8); i > 0; i--) {
        const id = b.pick();
        const weight = WEIGHTS[Math.floor(b.random() * WEIGHTS.length)]!;
        b.step(`weight:${id}=${weight}`, [{ kind: 'reweight', id, weight }]);
      }
      return;
    case 'fail': {
      const id = body ?? b.pick();
      b.fail(id).recover(id);
      return;
    }
    default:
      throw usage(`--workload: cannot read ${JSON.stringify(part)} (grow:A..B, shrink:A..B, churn[:N], reweight[:N], fail[:ID], standard, file:PATH)`);
  }
}

/**
 * A generated workload from `--workload`: parts joined by `+`, each `grow:A..B` (start at A shards,
 * add one at a time up to B), `shrink:A..B` (remove random shards down to B), `churn[:N]` (N steps
 * alternating a random removal and a new shard), `reweight[:N]` (N random reweights to 0.5..3),
 * `fail[:ID]` (a failure, then the recovery of the same shard), or `standard`
 * ({@link STANDARD_WORKLOAD}). Only the first part sets the start (`grow:A..` and `shrink:A..`
 * start at A equal shards, anything else at `startShards`). Deterministic for a seed.
 */
export function generateWorkload(spec: string, seed = 1, startShards = DEFAULT_START_SHARDS): Workload {
  const text = spec === 'standard' ? STANDARD_WORKLOAD : spec;
  const parts = text.split('+').map((p) => p.trim());
  if (parts.some((p) => p === '')) throw usage(`--workload: empty part in ${JSON.stringify(spec)}`);
  const first = /^(grow|shrink):(.*)$/.exec(parts[0]!);
  const b = new WorkloadBuilder(equalShards(first === null ? startShards : range(parts[0]!, first[2])[0]), seed);
  for (const part of parts) {
    const m = /^([a-z]+)(?::(.+))?$/.exec(part);
    generate(b, m?.[1] ?? part, part, m?.[2]);
  }
  return b.build(spec);
}
