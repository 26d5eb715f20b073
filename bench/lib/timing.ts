import Benchmark from 'benchmark';

/** One measured operation: `fn` performs `batch` lookups per call. */
export interface Case {
  readonly name: string;
  readonly batch: number;
  readonly fn: () => void;
}

/**
 * Result of one case, in nanoseconds per lookup: `nsPerOp` from the fastest benchmark.js sample
 * (the least disturbed by other processes on a shared machine) and `meanNs` over every sample,
 * with benchmark.js's relative margin of error of the mean.
 */
export interface Timing {
  readonly name: string;
  readonly nsPerOp: number;
  readonly meanNs: number;
  readonly rme: number;
  readonly samples: number;
}

/**
 * Run cases with benchmark.js in `rounds` interleaved rounds (each round runs every case once), so
 * a burst of load from another process hits all peers alike rather than whichever case ran then.
 * Each call of `fn` does a batch of lookups so benchmark.js's per-call cost does not swamp a 50 ns
 * lookup.
 *
 * `minTime` (seconds) shortens benchmark.js's samples: on a machine shared with other busy processes
 * a sample of a few milliseconds often runs within one scheduler slice, so the fastest of hundreds of
 * short samples is an undisturbed one, where a 50 ms sample always contains other processes' slices.
 */
export function runSuite(cases: readonly Case[], maxTime: number, log: (line: string) => void, rounds = 3, minTime?: number): Timing[] {
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const rme = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    const suite = new Benchmark.Suite();
    for (const c of cases) suite.add(c.name, c.fn, { maxTime: maxTime / rounds, minSamples: 5, ...(minTime === undefined ? {} : { minTime }) });
    suite.on('cycle', (event: Benchmark.Event) => {
      const b = event.target as unknown as Benchmark & { name: string };
      samples.get(b.name)!.push(...b.stats.sample);
      rme.set(b.name, [...(rme.get(b.name) ?? []), b.stats.rme]);
    });
    suite.run({ async: false });
  }
  return cases.map((c) => {
    const s = samples.get(c.name)!;
    const perOp = (seconds: number): number => (seconds * 1e9) / c.batch;
    const t: Timing = {
      name: c.name,
      nsPerOp: perOp(Math.min(...s)),
      meanNs: perOp(s.reduce((a, b) => a + b, 0) / s.length),
      rme: Math.max(...(rme.get(c.name) ?? [0])),
      samples: s.length,
    };
    log(`  ${t.name.padEnd(48)} ${t.nsPerOp.toFixed(1).padStart(9)} ns/op best, ${t.meanNs.toFixed(1).padStart(9)} mean  (${t.samples} samples)`);
    return t;
  });
}

/**
 * Fastest wall time in ms of `fn` over at least `minRuns` runs and `minMs` of total time: on a
 * shared machine the fastest run is the one least disturbed by other processes.
 */
export function bestMs(fn: () => unknown, minRuns = 5, minMs = 500): number {
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
    if (times.length >= 200) break;
  }
  return Math.min(...times);
}
