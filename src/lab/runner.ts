import type { KeySet } from './keys.js';
import { changeShards, totalWeight } from './shards.js';
import { createScheme } from './schemes/registry.js';
import type { SchemeName } from './schemes/registry.js';
import type { Expressed, LabShard, Scheme, SchemeParams, Workload } from './types.js';

/** The figures of one scheme after one step (step 0 is the starting topology). */
export interface LabRow {
  readonly scheme: SchemeName;
  readonly step: number;
  readonly label: string;
  /** Shards owning keys after the step. */
  readonly shards: number;
  /** How the scheme expressed the step's changes: the worst of them. */
  readonly how: Expressed;
  readonly note?: string;
  /** Fraction of the keys whose shard changed. */
  readonly movedKeys: number;
  /** Least fraction of keys any placement had to move to reach the new per-shard key counts. */
  readonly minimalKeys: number;
  /** Exact fraction of the hash space that changed owner, when the scheme defines it. */
  readonly movedExact: number | null;
  /** Exact least fraction for the new exact shares, when the scheme defines them. */
  readonly minimalExact: number | null;
  /** `movedExact / minimalExact` when exact and the keys are uniform, else `movedKeys / minimalKeys`; null at step 0 or when nothing had to move. */
  readonly movedOverMinimal: number | null;
  /** Largest load over fair load (the shard's weight share), counted over the keys' load weights. */
  readonly peakToMeanKeys: number;
  /** The same over the exact shares, when the scheme defines them. */
  readonly peakToMeanExact: number | null;
  /** `peakToMeanExact` when exact and the keys are uniform, else `peakToMeanKeys`. */
  readonly peakToMean: number;
  /** Whether the two headline figures are exact (true) or counted over the sampled keys. */
  readonly exact: boolean;
  /** Wall time of applying the step's changes (building the new scheme), one run. */
  readonly buildMs: number;
  /** Routing state bytes over shards. */
  readonly bytesPerShard: number;
}

/** A lab run: the inputs, one row per scheme and step. */
export interface LabResult {
  readonly workload: { readonly spec: string; readonly initialShards: number; readonly steps: readonly string[] };
  readonly keys: { readonly kind: string; readonly count: number };
  readonly params: SchemeParams;
  readonly schemes: readonly SchemeName[];
  readonly rows: readonly LabRow[];
}

/** Largest `share / fairShare` over `shards`, fair share being the weight share. */
export function peakToMean(shards: readonly LabShard[], shares: ReadonlyMap<string, number>): number {
  const total = totalWeight(shards);
  let sum = 0;
  for (const s of shards) sum += shares.get(s.id) ?? 0;
  let peak = 0;
  for (const s of shards) peak = Math.max(peak, (shares.get(s.id) ?? 0) / sum / (s.weight / total));
  return peak;
}

/** Sum over shards of `max(0, after - before)`: what any placement must move to reach `after`. */
export function minimalMove(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const [id, a] of after) sum += Math.max(0, a - (before.get(id) ?? 0));
  return sum;
}

interface Placed {
  readonly owners: string[];
  /** Key counts per shard over the key total. */
  readonly keyShares: Map<string, number>;
  /** Load weights per shard (not normalized). */
  readonly load: Map<string, number>;
}

function place(scheme: Scheme, keys: KeySet): Placed {
  const owners = scheme.assign(keys);
  const counts = new Map<string, number>();
  const load = new Map<string, number>();
  for (let i = 0; i < owners.length; i++) {
    const o = owners[i]!;
    counts.set(o, (counts.get(o) ?? 0) + 1);
    load.set(o, (load.get(o) ?? 0) + keys.weights[i]!);
  }
  const keyShares = new Map([...counts].map(([id, n]) => [id, n / keys.size]));
  return { owners, keyShares, load };
}

const SEVERITY: Record<Expressed, number> = { native: 0, emulated: 1, ignored: 2 };

function ratio(moved: number, minimal: number): number | null {
  // Below one key in a million nothing had to move (a reweight a scheme ignored): no ratio.
  return minimal > 1e-6 ? moved / minimal : null;
}

function row(
  scheme: Scheme,
  name: SchemeName,
  step: { index: number; label: string; how: Expressed; notes: string[]; buildMs: number },
  truth: readonly LabShard[],
  keys: KeySet,
  now: Placed,
  before?: { scheme: Scheme; placed: Placed },
): LabRow {
  let moved = 0;
  if (before !== undefined) for (let i = 0; i < keys.size; i++) if (before.placed.owners[i] !== now.owners[i]) moved++;
  const movedKeys = moved / keys.size;
  const minimalKeys = before === undefined ? 0 : minimalMove(before.placed.keyShares, now.keyShares);
  const shares = scheme.exactShares();
  const prevShares = before?.scheme.exactShares();
  const movedExact = before === undefined ? 0 : scheme.exactMoved(before.scheme) ?? null;
  const minimalExact = shares !== undefined && prevShares !== undefined ? minimalMove(prevShares, shares) : before === undefined && shares !== undefined ? 0 : null;
  const exact = keys.uniform && shares !== undefined && movedExact !== null && minimalExact !== null;
  // Fair shares come from the workload's weights, not the scheme's view: a scheme that ignored a
  // reweight (jump) is measured against the weight it should have honoured.
  const peakToMeanKeys = peakToMean(truth, now.load);
  const peakToMeanExact = shares === undefined ? null : peakToMean(truth, shares);
  return {
    scheme: name,
    step: step.index,
    label: step.label,
    shards: scheme.shards.length,
    how: step.how,
    ...(step.notes.length > 0 ? { note: step.notes.join('; ') } : {}),
    movedKeys,
    minimalKeys,
    movedExact,
    minimalExact,
    movedOverMinimal: before === undefined ? null : exact ? ratio(movedExact!, minimalExact!) : ratio(movedKeys, minimalKeys),
    peakToMeanKeys,
    peakToMeanExact,
    peakToMean: exact ? peakToMeanExact! : peakToMeanKeys,
    exact,
    buildMs: step.buildMs,
    bytesPerShard: scheme.byteSize() / scheme.shards.length,
  };
}

/** The rows of one scheme over the workload. */
export function runScheme(name: SchemeName, workload: Workload, keys: KeySet, params: SchemeParams): LabRow[] {
  const t0 = performance.now();
  let scheme = createScheme(name, workload.initial, params);
  let placed = place(scheme, keys);
  let truth = workload.initial;
  const rows = [row(scheme, name, { index: 0, label: 'start', how: 'native', notes: [], buildMs: performance.now() - t0 }, truth, keys, placed)];
  workload.steps.forEach((step, i) => {
    const before = { scheme, placed };
    let how: Expressed = 'native';
    const notes: string[] = [];
    const start = performance.now();
    for (const change of step.changes) {
      truth = changeShards(truth, change);
      const applied = scheme.apply(change);
      scheme = applied.scheme;
      if (SEVERITY[applied.how] > SEVERITY[how]) how = applied.how;
      if (applied.note !== undefined) notes.push(applied.note);
    }
    const buildMs = performance.now() - start;
    placed = place(scheme, keys);
    rows.push(row(scheme, name, { index: i + 1, label: step.label, how, notes, buildMs }, truth, keys, placed, before));
  });
  return rows;
}

/**
 * Run every scheme through the workload over the keys: per step, how many keys moved against the
 * least that had to, and the peak/mean load, exact where the scheme defines shares. Deterministic
 * except for `buildMs`.
 */
export function runLab(opts: { schemes: readonly SchemeName[]; workload: Workload; keys: KeySet; params: SchemeParams }): LabResult {
  const rows = opts.schemes.flatMap((name) => runScheme(name, opts.workload, opts.keys, opts.params));
  return {
    workload: { spec: opts.workload.spec, initialShards: opts.workload.initial.length, steps: opts.workload.steps.map((s) => s.label) },
    keys: { kind: opts.keys.kind, count: opts.keys.size },
    params: opts.params,
    schemes: [...opts.schemes],
    rows,
  };
}

/** One line per scheme of a {@link LabResult}. */
export interface LabSummary {
  readonly scheme: SchemeName;
  /** Mean and worst moved/minimal over the steps that had to move something. */
  readonly meanMovedOverMinimal: number | null;
  readonly maxMovedOverMinimal: number | null;
  /** Total moved and total minimal over all steps, as fractions of the keys (or hash space). */
  readonly totalMoved: number;
  readonly totalMinimal: number;
  readonly finalPeakToMean: number;
  readonly maxPeakToMean: number;
  readonly emulatedSteps: number;
  readonly ignoredSteps: number;
  readonly meanBuildMs: number;
  readonly finalBytesPerShard: number;
  readonly exact: boolean;
}

/** Summaries of a result, one per scheme in run order. */
export function summarize(result: LabResult): LabSummary[] {
  return result.schemes.map((scheme) => {
    const rows = result.rows.filter((r) => r.scheme === scheme);
    const steps = rows.slice(1);
    const ratios = steps.map((r) => r.movedOverMinimal).filter((r): r is number => r !== null);
    const last = rows[rows.length - 1]!;
    return {
      scheme,
      meanMovedOverMinimal: ratios.length === 0 ? null : ratios.reduce((a, b) => a + b, 0) / ratios.length,
      maxMovedOverMinimal: ratios.length === 0 ? null : Math.max(...ratios),
      totalMoved: steps.reduce((s, r) => s + (r.exact ? r.movedExact! : r.movedKeys), 0),
      totalMinimal: steps.reduce((s, r) => s + (r.exact ? r.minimalExact! : r.minimalKeys), 0),
      finalPeakToMean: last.peakToMean,
      maxPeakToMean: Math.max(...rows.map((r) => r.peakToMean)),
      emulatedSteps: steps.filter((r) => r.how === 'emulated').length,
      ignoredSteps: steps.filter((r) => r.how === 'ignored').length,
      meanBuildMs: steps.length === 0 ? rows[0]!.buildMs : steps.reduce((s, r) => s + r.buildMs, 0) / steps.length,
      finalBytesPerShard: last.bytesPerShard,
      exact: rows.every((r) => r.exact),
    };
  });
}
