import { ErrorCode, ShardkitInputError } from '../errors.js';
import { Topology } from '../topology/topology.js';
import type { LabChange, LabShard, Workload } from './types.js';
import { WorkloadBuilder } from './workload.js';

function bad(name: string, message: string): ShardkitInputError {
  return new ShardkitInputError(ErrorCode.usage, `workload ${name}: ${message}`);
}

/**
 * Apply one step token to `b`: `add:ID`, `add:ID=W`, `remove:ID`, `drain:ID` (the lab treats a
 * drain as a removal: the shard ends owning nothing), `weight:ID=W`, `fail:ID`, `recover:ID`.
 */
export function applyStepToken(b: WorkloadBuilder, token: string, name: string): void {
  const m = /^(add|remove|drain|weight|fail|recover):([^=]+)(?:=(.+))?$/.exec(token.trim());
  const verb = m?.[1];
  const id = m?.[2] ?? '';
  const weight = m?.[3] === undefined ? undefined : Number(m[3]);
  const withWeight = verb === 'add' || verb === 'weight';
  if (m === null || (weight !== undefined && !withWeight) || (verb === 'weight' && weight === undefined)) {
    throw bad(name, `cannot read step ${JSON.stringify(token)} (add:ID[=W], remove:ID, drain:ID, weight:ID=W, fail:ID, recover:ID)`);
  }
  switch (verb) {
    case 'add':
      b.step(token, [{ kind: 'add', id, weight: weight ?? 1 }]);
      return;
    case 'remove':
    case 'drain':
      b.step(token, [{ kind: 'remove', id }]);
      return;
    case 'weight':
      b.step(token, [{ kind: 'reweight', id, weight: weight! }]);
      return;
    case 'fail':
      b.fail(id);
      return;
    default:
      b.recover(id);
  }
}

function activeShards(t: Topology): LabShard[] {
  return t.activeShards().map((s) => ({ id: s.id, weight: s.weight }));
}

/** The changes that take the active shards of `from` to those of `to`: removals, reweights, then additions. */
export function topologyChanges(from: readonly LabShard[], to: readonly LabShard[]): LabChange[] {
  const after = new Map(to.map((s) => [s.id, s.weight]));
  const before = new Map(from.map((s) => [s.id, s.weight]));
  const changes: LabChange[] = [];
  for (const s of from) {
    const w = after.get(s.id);
    if (w === undefined) changes.push({ kind: 'remove', id: s.id });
    else if (w !== s.weight) changes.push({ kind: 'reweight', id: s.id, weight: w });
  }
  for (const s of to) if (!before.has(s.id)) changes.push({ kind: 'add', id: s.id, weight: s.weight });
  return changes;
}

function shardList(name: string, value: unknown): LabShard[] {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) {
    return Array.from({ length: value }, (_, i) => ({ id: `s${i + 1}`, weight: 1 }));
  }
  if (!Array.isArray(value)) throw bad(name, '"shards" must be a count or a list of {id, weight}');
  return value.map((s: unknown) => {
    const o = s as { id?: unknown; weight?: unknown };
    return { id: String(o?.id), weight: o?.weight === undefined ? 1 : (o.weight as number) };
  });
}

/**
 * A workload from a parsed workload document, in one of two forms:
 * - `{ shards: N | [{id, weight}], steps: ["add:s5", "fail:s2", "recover:s2", ...] }`;
 * - `{ topologies: [FILE, FILE, ...] }`: the topology files an operator already has, in order;
 *   each file after the first is one step with every change between the two (`readTopology`
 *   reads a path relative to the workload file).
 */
export function workloadFromDocument(name: string, doc: unknown, readTopology: (path: string) => Topology, seed = 1): Workload {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad(name, 'expected an object with "steps" or "topologies"');
  const o = doc as { shards?: unknown; steps?: unknown; topologies?: unknown };
  const unknown = Object.keys(o).filter((k) => !['shards', 'steps', 'topologies'].includes(k));
  if (unknown.length > 0) throw bad(name, `unknown field ${JSON.stringify(unknown[0])} (shards, steps, topologies)`);
  if (o.topologies !== undefined) {
    if (!Array.isArray(o.topologies) || o.topologies.length < 2 || !o.topologies.every((p) => typeof p === 'string')) {
      throw bad(name, '"topologies" must list at least two topology files');
    }
    const tops = (o.topologies as string[]).map((p) => ({ path: p, shards: activeShards(readTopology(p)) }));
    const b = new WorkloadBuilder(tops[0]!.shards, seed);
    for (let i = 1; i < tops.length; i++) b.step(tops[i]!.path, topologyChanges(tops[i - 1]!.shards, tops[i]!.shards));
    return b.build(`file:${name}`);
  }
  if (!Array.isArray(o.steps) || !o.steps.every((s) => typeof s === 'string')) throw bad(name, '"steps" must be a list of step strings');
  const b = new WorkloadBuilder(shardList(name, o.shards ?? 4), seed);
  for (const token of o.steps as string[]) applyStepToken(b, token, name);
  return b.build(`file:${name}`);
}
