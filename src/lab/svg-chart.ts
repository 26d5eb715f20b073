/** One line of a chart: a value per x position, `null` where the series has no value (a gap). */
export interface Series {
  readonly name: string;
  readonly values: readonly (number | null)[];
}

/** What {@link lineChart} draws. */
export interface LineChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Label of each x position (step names); every series has one value per label. */
  readonly xLabels: readonly string[];
  readonly series: readonly Series[];
  readonly width?: number;
  readonly height?: number;
  /** Draw this y value as a dashed reference line (1.0 for ratios). */
  readonly reference?: number;
}

/** Colors from the Okabe-Ito palette (distinguishable with the common color-vision deficiencies), then a few more. */
const COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000', '#999999', '#882255'];

const MARGIN = { top: 36, right: 150, bottom: 48, left: 64 };

/** Escape text for an XML text node or attribute. */
export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick values covering `[min, max]` with about `target` ticks (1, 2, 2.5 or 5 times a power of ten apart). */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!(max > min)) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.05 : 1;
    return niceTicks(min - pad, max + pad, target);
  }
  const raw = (max - min) / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let v = first; v <= max + step * 1e-9 || ticks.length < 2; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

function fmt(n: number): string {
  return Number(n.toFixed(2)).toString();
}

/**
 * A line chart as a standalone SVG document: axes with round ticks, one polyline per series (broken
 * at null values), a legend on the right. Hand-written because the lab's charts are simple and the
 * project takes no charting dependency; each series is a `<path class="series" data-series=NAME>`
 * so tests and scripts can read the data back.
 */
export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 760;
  const height = spec.height ?? 400;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const values = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (spec.reference !== undefined) values.push(spec.reference);
  const ticks = niceTicks(values.length === 0 ? 0 : Math.min(...values), values.length === 0 ? 1 : Math.max(...values));
  const yMin = ticks[0]!;
  const yMax = ticks[ticks.length - 1]!;
  const n = spec.xLabels.length;
  const x = (i: number): number => MARGIN.left + (n <= 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const y = (v: number): number => MARGIN.top + plotH - ((v - yMin) / (yMax - yMin)) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<title>${xmlEscape(spec.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${xmlEscape(spec.title)}</text>`);
  out.push(`<g class="y-axis">`);
  for (const t of ticks) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${fmt(y(t))}" y2="${fmt(y(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text class="tick" x="${MARGIN.left - 6}" y="${fmt(y(t) + 4)}" text-anchor="end">${xmlEscape(String(t))}</text>`);
  }
  out.push(`</g>`);
  out.push(`<g class="x-axis">`);
  const every = Math.max(1, Math.ceil(n / 12));
  for (let i = 0; i < n; i += every) {
    out.push(`<line x1="${fmt(x(i))}" x2="${fmt(x(i))}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 4}" stroke="#333333"/>`);
    out.push(`<text class="tick" x="${fmt(x(i))}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${xmlEscape(String(i))}</text>`);
  }
  out.push(`</g>`);
  out.push(`<path d="M${MARGIN.left},${MARGIN.top}V${MARGIN.top + plotH}H${MARGIN.left + plotW}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 8}" text-anchor="middle">${xmlEscape(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(spec.yLabel)}</text>`);
  if (spec.reference !== undefined) {
    out.push(`<line class="reference" x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${fmt(y(spec.reference))}" y2="${fmt(y(spec.reference))}" stroke="#333333" stroke-dasharray="4 3"/>`);
  }
  spec.series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length]!;
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${fmt(x(i))},${fmt(y(v))}`;
      pen = true;
    });
    out.push(`<path class="series" data-series="${xmlEscape(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    const ly = MARGIN.top + 8 + k * 16;
    out.push(`<g class="legend"><line x1="${width - MARGIN.right + 12}" x2="${width - MARGIN.right + 32}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${width - MARGIN.right + 38}" y="${ly + 4}">${xmlEscape(s.name)}</text></g>`);
  });
  out.push(`</svg>`);
  return `${out.join('\n')}\n`;
}
