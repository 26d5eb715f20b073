import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HASHRING_SERIES, simulationCharts } from '../../../../src/cli/commands/simulate-charts.js';
import { SIMULATED_PLACEMENTS, parseSteps, runSimulation } from '../../../../src/cli/commands/simulate.js';
import { parseXml } from '../../../support/xml.js';
import type { XmlElement } from '../../../support/xml.js';
import { run, scratch } from '../helpers.js';

const SERIES = [...SIMULATED_PLACEMENTS.map((p) => `shardkit ${p}`), HASHRING_SERIES];

/** The (x, y) pixel position of each vertex of a series path. */
function vertices(path: XmlElement): Array<[number, number]> {
  return [...path.attrs.d!.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

describe('simulate charts', () => {
  const options = { shards: 4, keys: 2000, vnodes: 64, steps: parseSteps('add,remove:s2,weight:s3=2,drain:s1') };
  const charts = simulationCharts(runSimulation(options), options);
  const byFile = new Map(charts.map((c) => [c.file, parseXml(c.svg)]));

  it('draws moved-vs-minimal and load-per-shard as well-formed SVG', () => {
    expect([...byFile.keys()]).to.deep.equal(['moved-vs-minimal.svg', 'load-per-shard.svg']);
    for (const els of byFile.values()) {
      expect(els[0]!.name).to.equal('svg');
      expect(els[0]!.attrs.xmlns).to.equal('http://www.w3.org/2000/svg');
    }
  });

  it('has one series per shardkit placement and one for hashring, named in the legend', () => {
    for (const [file, els] of byFile) {
      const names = els.filter((e) => e.name === 'path' && e.attrs.class === 'series').map((e) => e.attrs['data-series']);
      expect(names, file).to.deep.equal(SERIES);
      const legend = els.filter((e) => e.name === 'text').map((e) => e.text);
      for (const name of SERIES) expect(legend, file).to.include(name);
    }
  });

  it('puts a vertex per step and per shard, and draws hashring where the ketama placement (its reproduction) is', () => {
    const moved = byFile.get('moved-vs-minimal.svg')!.filter((e) => e.attrs.class === 'series');
    for (const p of moved) expect(vertices(p), p.attrs['data-series']).to.have.length(options.steps.length);
    const load = byFile.get('load-per-shard.svg')!.filter((e) => e.attrs.class === 'series');
    // After add s5, remove s2 and drain s1: s3, s4 and s5 own the hash space.
    for (const p of load) expect(vertices(p), p.attrs['data-series']).to.have.length(3);
    for (const els of [moved, load]) {
      const d = (name: string) => els.find((e) => e.attrs['data-series'] === name)!.attrs.d;
      expect(d(HASHRING_SERIES)).to.equal(d('shardkit ketama'));
    }
    // hashed and balanced move exactly the minimum at every step: one flat line at the same height.
    const ys = (name: string) => vertices(moved.find((e) => e.attrs['data-series'] === name)!).map(([, y]) => y);
    expect(new Set([...ys('shardkit hashed'), ...ys('shardkit balanced')]).size).to.equal(1);
    // ketama (and hashring) move more than the minimum on the reweight: a vertex above the flat line.
    expect(Math.min(...ys('shardkit ketama'))).to.be.below(ys('shardkit hashed')[0]!);
  });

  describe('simulate --svg', () => {
    const dir = scratch();

    it('writes both charts into the directory, creating it', async () => {
      const out = join(dir.dir(), 'charts', 'sim');
      const r = await run(['simulate', '--shards', '3', '--keys', '1000', '--vnodes', '32', '--steps', 'add,remove:s1', '--svg', out]);
      expect(r.code, r.err).to.equal(0);
      for (const file of ['moved-vs-minimal.svg', 'load-per-shard.svg']) {
        const els = parseXml(readFileSync(join(out, file), 'utf8'));
        expect(els.filter((e) => e.attrs.class === 'series').map((e) => e.attrs['data-series']), file).to.deep.equal(SERIES);
      }
    });
  });
});
