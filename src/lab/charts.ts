import type { LabResult } from './runner.js';
import { lineChart } from './svg-chart.js';

/** A chart file of a lab run: its file name and SVG text. */
export interface ChartFile {
  readonly file: string;
  readonly svg: string;
}

/**
 * The two charts of a lab run, one line per scheme over the steps: moved/minimal (gaps where nothing
 * had to move) and peak/mean load.
 */
export function labCharts(result: LabResult): ChartFile[] {
  const xLabels = ['start', ...result.workload.steps];
  const series = (pick: (r: LabResult['rows'][number]) => number | null) =>
    result.schemes.map((name) => ({ name, values: result.rows.filter((r) => r.scheme === name).map(pick) }));
  const where = `${result.workload.spec}, ${result.keys.count} ${result.keys.kind} keys`;
  return [
    {
      file: 'moved-over-minimal.svg',
      svg: lineChart({
        title: `Moved / minimal per step (${where})`,
        xLabel: 'step',
        yLabel: 'moved / minimal',
        xLabels,
        series: series((r) => r.movedOverMinimal),
        reference: 1,
      }),
    },
    {
      file: 'peak-to-mean.svg',
      svg: lineChart({
        title: `Peak / mean load after each step (${where})`,
        xLabel: 'step',
        yLabel: 'peak / mean load',
        xLabels,
        series: series((r) => r.peakToMean),
        reference: 1,
      }),
    },
  ];
}
