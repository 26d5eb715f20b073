import type { LabChange, LabShard } from './types.js';

/**
 * The shard list after `change`: an added shard goes last, a removed one is dropped, a reweighted
 * one keeps its place. The workload has already checked that ids exist (or do not, for an add).
 */
export function changeShards(shards: readonly LabShard[], change: LabChange): LabShard[] {
  switch (change.kind) {
    case 'add':
      return [...shards, { id: change.id, weight: change.weight }];
    case 'remove':
      return shards.filter((s) => s.id !== change.id);
    case 'reweight':
      return shards.map((s) => (s.id === change.id ? { id: s.id, weight: change.weight } : s));
  }
}

/** Sum of the shards' weights. */
export function totalWeight(shards: readonly LabShard[]): number {
  return shards.reduce((sum, s) => sum + s.weight, 0);
}
