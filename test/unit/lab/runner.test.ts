import { expect } from 'chai';
import { zipfKeys } from '../../../src/lab/keys.js';
import { minimalMove, peakToMean, runLab, summarize } from '../../../src/lab/runner.js';
import { SCHEME_NAMES, createScheme, parseSchemes } from '../../../src/lab/schemes/registry.js';
import { generateWorkload } from '../../../src/lab/workload.js';
import { ErrorCode } from '../../../src/errors.js';
import { KEYS_20K, params, shards } from './helpers.js';

describe('lab runner', () => {
  const workload = generateWorkload('grow:3..5+reweight:2+fail:s4');
  const result = runLab({ schemes: SCHEME_NAMES, workload, keys: KEYS_20K, params: params({ vnodes: 64, maglevSize: 1009 }) });

  it('gives one row per scheme and step, starting with the initial topology', () => {
    expect(result.rows).to.have.length(SCHEME_NAMES.length * (workload.steps.length + 1));
    expect(result.workload.steps).to.deep.equal(workload.steps.map((s) => s.label));
    for (const name of SCHEME_NAMES) {
      const rows = result.rows.filter((r) => r.scheme === name);
      expect(rows[0]!.label).to.equal('start');
      expect(rows[0]!.movedOverMinimal).to.equal(null);
      expect(rows[0]!.movedKeys).to.equal(0);
      expect(rows.map((r) => r.step)).to.deep.equal([...Array(workload.steps.length + 1).keys()]);
    }
  });

  it('never reports fewer moved keys than the minimum, and 1.0 for the schemes that move only what they must', () => {
    for (const r of result.rows) {
      expect(r.movedKeys, `${r.scheme} ${r.label}`).to.be.at.least(r.minimalKeys - 1e-12);
      if (r.movedExact !== null && r.minimalExact !== null) expect(r.movedExact).to.be.at.least(r.minimalExact - 1e-12);
      expect(r.peakToMean).to.be.at.least(1 - 1e-12);
    }
    for (const name of ['hashed', 'balanced', 'rendezvous'] as const) {
      for (const r of result.rows.filter((x) => x.scheme === name && x.movedOverMinimal !== null)) expect(r.movedOverMinimal, `${name} ${r.label}`).to.be.closeTo(1, 1e-9);
    }
  });

  it('uses exact figures for rings and Maglev with uniform keys, and counts keys for the rest', () => {
    const exact = new Set(result.rows.filter((r) => r.exact).map((r) => r.scheme));
    expect([...exact].sort()).to.deep.equal(['balanced', 'hashed', 'hashring', 'ketama', 'maglev']);
    const maglev = result.rows.find((r) => r.scheme === 'maglev' && r.step === 1)!;
    expect(maglev.peakToMean).to.equal(maglev.peakToMeanExact);
  });

  it('flags what a scheme could not express, and summarizes it', () => {
    const jump = result.rows.filter((r) => r.scheme === 'jump');
    expect(jump.filter((r) => r.how === 'ignored').map((r) => r.label)).to.deep.equal(workload.steps.filter((s) => s.label.startsWith('weight:')).map((s) => s.label));
    const summary = summarize(result);
    expect(summary.map((s) => s.scheme)).to.deep.equal([...SCHEME_NAMES]);
    // Jump ignored the reweights, so against the workload's weights its load is off: peak/mean > 1.2.
    const afterReweights = jump.find((r) => r.step === 2 + 2)!;
    expect(afterReweights.peakToMean).to.be.above(1.2);
    const js = summary.find((s) => s.scheme === 'jump')!;
    expect(js.ignoredSteps).to.equal(2);
    expect(js.exact).to.equal(false);
    expect(summary.find((s) => s.scheme === 'hashed')!.exact).to.equal(true);
    for (const s of summary) expect(s.totalMoved).to.be.at.least(s.totalMinimal - 1e-9);
  });

  it('counts load by key weight with Zipf keys and then prefers sampled figures', () => {
    const r = runLab({ schemes: ['hashed'], workload: generateWorkload('grow:4..5'), keys: zipfKeys(5000, 1.1), params: params() });
    expect(r.rows.every((x) => !x.exact)).to.equal(true);
    expect(r.rows[1]!.peakToMeanExact).to.not.equal(null);
    expect(r.rows[1]!.peakToMean).to.equal(r.rows[1]!.peakToMeanKeys);
  });

  it('computes peak/mean against weight shares and the minimal move', () => {
    const list = shards(2, (i) => i + 1);
    expect(peakToMean(list, new Map([['s1', 0.5], ['s2', 0.5]]))).to.be.closeTo(1.5, 1e-12);
    expect(minimalMove(new Map([['a', 0.5], ['b', 0.5]]), new Map([['a', 0.25], ['b', 0.25], ['c', 0.5]]))).to.equal(0.5);
  });

  it('parses --schemes', () => {
    expect(parseSchemes('all')).to.deep.equal([...SCHEME_NAMES]);
    expect(parseSchemes('jump, maglev,jump')).to.deep.equal(['jump', 'maglev']);
    expect(() => parseSchemes('ring')).to.throw(/unknown scheme "ring"/).with.property('code', ErrorCode.usage);
    expect(() => parseSchemes(' , ')).to.throw(/at least one/);
    expect(createScheme('maglev', shards(2), params({ maglevSize: 13 })).shards).to.have.length(2);
  });
});
