import { expect } from 'chai';
import { labCharts } from '../../../src/lab/charts.js';
import { runLab } from '../../../src/lab/runner.js';
import { lineChart, niceTicks, xmlEscape } from '../../../src/lab/svg-chart.js';
import { generateWorkload } from '../../../src/lab/workload.js';
import { parseXml } from '../../support/xml.js';
import { KEYS_20K, params } from './helpers.js';

describe('lab SVG charts', () => {
  describe('#lineChart', () => {
    const svg = lineChart({
      title: 'A <test> & chart',
      xLabel: 'step',
      yLabel: 'ratio',
      xLabels: ['start', 'a', 'b', 'c'],
      series: [
        { name: 'one', values: [1, 1.5, 2, 1.25] },
        { name: 'two & more', values: [null, 1, null, 3] },
      ],
      reference: 1,
    });
    const els = parseXml(svg);

    it('is well-formed SVG with the escaped title', () => {
      expect(els[0]!.name).to.equal('svg');
      expect(els[0]!.attrs.xmlns).to.equal('http://www.w3.org/2000/svg');
      expect(els.find((e) => e.name === 'title')!.text).to.equal('A &lt;test&gt; &amp; chart');
    });

    it('draws one path per series, broken at nulls, with one vertex per value', () => {
      const paths = els.filter((e) => e.name === 'path' && e.attrs.class === 'series');
      expect(paths.map((p) => p.attrs['data-series'])).to.deep.equal(['one', 'two &amp; more']);
      expect(paths[0]!.attrs.d!.match(/[ML]/g)).to.deep.equal(['M', 'L', 'L', 'L']);
      expect(paths[1]!.attrs.d!.match(/[ML]/g)).to.deep.equal(['M', 'M']);
      // Higher values sit higher on the page: smaller y.
      const ys = [...paths[0]!.attrs.d!.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((v) => Number(v[1]));
      expect(ys[2]).to.be.below(ys[1]!);
      expect(ys[1]).to.be.below(ys[0]!);
    });

    it('has axis ticks covering the data, a legend per series and the reference line', () => {
      const ticks = els.filter((e) => e.name === 'text' && e.attrs.class === 'tick').map((e) => e.text);
      expect(ticks).to.include('1');
      expect(ticks).to.include('3');
      expect(els.filter((e) => e.name === 'g' && e.attrs.class === 'legend')).to.have.length(2);
      expect(els.filter((e) => e.attrs.class === 'reference')).to.have.length(1);
    });
  });

  it('#niceTicks picks round steps that cover the range', () => {
    expect(niceTicks(0, 1)).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(1, 2.08)).to.deep.equal([1, 1.25, 1.5, 1.75, 2, 2.25]);
    const flat = niceTicks(1, 1);
    expect(flat[0]).to.be.below(1);
    expect(flat[flat.length - 1]).to.be.above(1);
    expect(xmlEscape('"a"')).to.equal('&quot;a&quot;');
  });

  it('#labCharts draws moved/minimal and peak/mean with one line per scheme', () => {
    const result = runLab({ schemes: ['hashed', 'jump'], workload: generateWorkload('grow:3..5'), keys: KEYS_20K, params: params() });
    const charts = labCharts(result);
    expect(charts.map((c) => c.file)).to.deep.equal(['moved-over-minimal.svg', 'peak-to-mean.svg']);
    for (const c of charts) {
      const series = parseXml(c.svg).filter((e) => e.attrs.class === 'series');
      expect(series.map((s) => s.attrs['data-series'])).to.deep.equal(['hashed', 'jump']);
    }
    const moved = parseXml(charts[0]!.svg).find((e) => e.attrs['data-series'] === 'hashed')!;
    // Step 0 has no ratio: the line starts at step 1 and has the two growth steps.
    expect(moved.attrs.d!.match(/[ML]/g)).to.deep.equal(['M', 'L']);
  });
});
