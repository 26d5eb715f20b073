import { createRequire } from 'node:module';
import type HashRing from 'hashring';
import { ErrorCode, ShardkitInputError } from '../errors.js';
import { ringHash } from '../hash/registry.js';
import { Ring } from '../ring/ring.js';

/** hashring's internals the benchmark reads: its sorted continuum. */
interface HashRingInternals {
  ring: Array<{ value: number; server: string }>;
}

/**
 * hashring's constructor, loaded on first use: it is a peer the lab compares against, not something
 * routing needs, so an installed shardkit does not carry it (an optional peer dependency).
 */
function hashRingClass(): typeof HashRing {
  try {
    return createRequire(import.meta.url)('hashring') as typeof HashRing;
  } catch (error) {
    throw new ShardkitInputError(
      ErrorCode.optionalDependency,
      'the hashring scheme compares against the hashring package, which is not installed: `npm install hashring@3.2.0` (or leave hashring out of --schemes)',
      { cause: error },
    );
  }
}

/** Whether the optional hashring package can be loaded here. */
export function hashRingInstalled(): boolean {
  try {
    hashRingClass();
    return true;
  } catch {
    return false;
  }
}

/** A hashring 3.2.0 instance over `{id: weight}` with hashring's `vnode count`. */
export function makeHashRing(weights: Record<string, number>, vnodeCount: number, cacheSize = 5000): HashRing {
  const HashRingClass = hashRingClass();
  // hashring accepts {server: weight}; its typings list only the {server: {weight}} and array forms.
  return new HashRingClass(weights as unknown as HashRing.Servers, 'md5', { 'vnode count': vnodeCount, 'max cache size': cacheSize });
}

/**
 * hashring's continuum as one of our Rings (same point semantics: first point >= h, wrapping),
 * so its exact arc shares and diffs can be computed with the same code as ours. Equal points keep
 * the first in hashring's sorted order, which is the one its binary search can return.
 */
export function ringOfHashRing(hr: HashRing, epoch = 1): Ring {
  const nodes = (hr as unknown as HashRingInternals).ring;
  const ids = [...new Set(nodes.map((n) => n.server))].sort();
  const index = new Map(ids.map((id, i) => [id, i]));
  const points: number[] = [];
  const owners: number[] = [];
  for (const n of nodes) {
    if (points.length > 0 && points[points.length - 1] === n.value) continue;
    points.push(n.value);
    owners.push(index.get(n.server)!);
  }
  return new Ring({
    epoch,
    hash: ringHash('ketama'),
    shardIds: ids,
    points: Uint32Array.from(points),
    owners: ids.length <= 256 ? Uint8Array.from(owners) : Uint16Array.from(owners),
  });
}
