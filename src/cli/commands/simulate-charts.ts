import type { ChartFile } from '../../lab/charts.js';
import { makeHashRing, ringOfHashRing } from '../../lab/hashring-ring.js';
import { lineChart } from '../../lab/svg-chart.js';
import { RING_SIZE } from '../../ring/move.js';
import { Ring } from '../../ring/ring.js';
import type { Topology } from '../../topology/topology.js';
import type { Simulation } from './simulate.js';

/** Name of the hashring series: the npm package itself, beside shardkit's placements. */
export const HASHRING_SERIES = 'hashring 3.2.0';

/** One placement's rings: before the first step and after each step. */
interface RingHistory {
  readonly name: string;
  readonly rings: readonly Ring[];
  /** The topology each ring came from (for weights and draining shards). */
  readonly topologies: readonly Topology[];
}

/**
 * hashring's continuum for the shards of `t` that own points, built by the hashring package from
 * `{id: weight}` with its `vnode count` of a quarter of the points per unit weight (md5 digests of
 * 4 points each), as the ketama placement and the lab's hashring scheme count them.
 */
function hashRingOf(t: Topology, vnodeCount: number, epoch: number): Ring {
  const weights: Record<string, number> = {};
  for (const s of t.shards) if (s.draining !== true) weights[s.id] = s.weight;
  // A 1-entry cache: hashring's LRU cannot be turned off, and only its continuum is read here.
  return ringOfHashRing(makeHashRing(weights, vnodeCount, 1), epoch);
}

function histories(sim: Simulation, vnodes: number): RingHistory[] {
  const out: RingHistory[] = [];
  for (const [placement, topologies] of sim.topologies) {
    out.push({ name: `shardkit ${placement}`, rings: topologies.map((t) => Ring.fromTopology(t)), topologies });
  }
  // Every placement went through the same shards and weights; take any one's history for hashring.
  const first = [...sim.topologies.values()][0] ?? [];
  const vnodeCount = Math.max(1, Math.round(vnodes / 4));
  out.push({ name: HASHRING_SERIES, rings: first.map((t, i) => hashRingOf(t, vnodeCount, i + 1)), topologies: first });
  return out;
}

/** Moved over minimal share of the hash space from ring `a` to ring `b`; null when nothing had to move. */
function movedOverMinimal(a: Ring, b: Ring): number | null {
  const moved = a.diff(b).reduce((sum, m) => sum + (m.end - m.start), 0);
  const before = a.arcs();
  const after = b.arcs();
  let minimal = 0;
  for (const [id, arc] of after) minimal += Math.max(0, arc - (before.get(id) ?? 0));
  return minimal === 0 ? null : moved / minimal;
}

/** Each owning shard's share of the hash space over its fair share (its weight over the total). */
function loadPerShard(ring: Ring, t: Topology): { ids: string[]; loads: number[] } {
  const active = t.shards.filter((s) => s.draining !== true);
  const total = active.reduce((sum, s) => sum + s.weight, 0);
  const arcs = ring.arcs();
  return {
    ids: active.map((s) => s.id),
    loads: active.map((s) => (arcs.get(s.id) ?? 0) / RING_SIZE / (s.weight / total)),
  };
}

/** What the x axis's numbered ticks stand for: every label when few, else the first and the last. */
function numbered(labels: readonly string[]): string {
  if (labels.length <= 8) return labels.map((l, i) => `${i} ${l}`).join(', ');
  return `0 ${labels[0]!} ... ${labels.length - 1} ${labels[labels.length - 1]!}`;
}

/**
 * The charts of a simulation, shardkit's placements beside the hashring package on the same steps:
 * `moved-vs-minimal.svg` (moved over minimal share of the hash space per step, exact from the
 * rings; 1 is the least any placement could move) and `load-per-shard.svg` (each shard's load over
 * its fair load after the last step, exact from the arcs).
 */
export function simulationCharts(sim: Simulation, opts: { readonly shards: number; readonly vnodes: number; readonly keys?: number }): ChartFile[] {
  const all = histories(sim, opts.vnodes);
  const where = `${opts.shards} shards at start, ${opts.vnodes} points/weight`;
  const last = all[0]!.topologies[all[0]!.topologies.length - 1]!;
  const order = loadPerShard(all[0]!.rings[all[0]!.rings.length - 1]!, last).ids;
  return [
    {
      file: 'moved-vs-minimal.svg',
      svg: lineChart({
        title: `Moved / minimal per step (${where})`,
        xLabel: `step (${numbered(sim.steps)})`,
        yLabel: 'moved / minimal',
        xLabels: sim.steps,
        series: all.map((h) => ({ name: h.name, values: sim.steps.map((_, i) => movedOverMinimal(h.rings[i]!, h.rings[i + 1]!)) })),
        reference: 1,
      }),
    },
    {
      file: 'load-per-shard.svg',
      svg: lineChart({
        title: `Load / fair load per shard after ${sim.steps[sim.steps.length - 1] ?? 'the start'} (${where})`,
        xLabel: `shard (${numbered(order)})`,
        yLabel: 'share / fair share',
        xLabels: order,
        series: all.map((h) => {
          const { ids, loads } = loadPerShard(h.rings[h.rings.length - 1]!, h.topologies[h.topologies.length - 1]!);
          const byId = new Map(ids.map((id, i) => [id, loads[i]!]));
          return { name: h.name, values: order.map((id) => byId.get(id) ?? null) };
        }),
        reference: 1,
      }),
    },
  ];
}
