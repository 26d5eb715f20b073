import { expect } from 'chai';
import { SIMULATED_PLACEMENTS, parseSteps, simulate } from '../../../../src/cli/commands/simulate.js';
import { ErrorCode } from '../../../../src/errors.js';
import { errorLine, run } from '../helpers.js';

describe('simulate command', () => {
  describe('#parseSteps', () => {
    it('reads every step form', () => {
      expect(parseSteps('add, add:x, add:y=3,remove:s2,weight:s3=2,drain:s1')).to.deep.equal([
        { kind: 'add', weight: 1 },
        { kind: 'add', id: 'x', weight: 1 },
        { kind: 'add', id: 'y', weight: 3 },
        { kind: 'remove', id: 's2' },
        { kind: 'reweight', id: 's3', weight: 2 },
        { kind: 'drain', id: 's1' },
      ]);
    });

    for (const bad of ['grow', 'remove', 'weight:s3', 'weight:s3=x', 'remove:s2=3', 'drain']) {
      it(`refuses ${bad}`, () => {
        expect(() => parseSteps(bad)).to.throw(/cannot read step/);
      });
    }
  });

  describe('#simulate', () => {
    const rows = simulate({ shards: 4, keys: 20_000, vnodes: 64, steps: parseSteps('add,remove:s2,weight:s3=2,drain:s1') });

    it('gives one row per placement and step, with growing epochs', () => {
      expect(rows.map((r) => `${r.placement}/${r.step}/${r.epoch}`)).to.deep.equal(
        SIMULATED_PLACEMENTS.flatMap((p) => [`${p}/add:s5/2`, `${p}/remove:s2/3`, `${p}/weight:s3=2/4`, `${p}/drain:s1/5`]),
      );
    });

    it('never moves fewer keys than the ideal, and hashed/balanced placements move only what they must', () => {
      for (const r of rows) {
        expect(r.movedKeys, `${r.placement} ${r.step}`).to.be.at.least(r.idealKeys - 1e-12);
        expect(r.movedFraction).to.be.at.least(r.minimalFraction - 1e-12);
        if (r.placement !== 'ketama') {
          expect(r.movedKeys, `${r.placement} ${r.step}`).to.be.closeTo(r.idealKeys, 1e-12);
          expect(r.movedFraction, `${r.placement} ${r.step}`).to.be.closeTo(r.minimalFraction, 1e-12);
        }
        expect(r.peakToMeanKeys).to.be.at.least(1);
        expect(r.peakToMeanExact).to.be.at.least(1 - 1e-12);
      }
    });

    it('counts keys close to the exact fractions', () => {
      for (const r of rows) expect(Math.abs(r.movedKeys - r.movedFraction), `${r.placement} ${r.step}`).to.be.below(0.02);
    });

    it('is deterministic', () => {
      const again = simulate({ shards: 4, keys: 20_000, vnodes: 64, steps: parseSteps('add,remove:s2,weight:s3=2,drain:s1') });
      expect(again).to.deep.equal(rows);
    });
  });

  describe('command', () => {
    it('prints JSON rows', async () => {
      const r = await run(['simulate', '--shards', '3', '--keys', '5000', '--steps', 'add', '--vnodes', '32', '--json']);
      expect(r.code, r.err).to.equal(0);
      const json = JSON.parse(r.out) as { shards: number; keys: number; vnodes: number; steps: number; rows: Array<Record<string, unknown>> };
      expect(json).to.include({ shards: 3, keys: 5000, vnodes: 32, steps: 1 });
      expect(json.rows).to.have.length(3);
      expect(Object.keys(json.rows[0]!)).to.deep.equal([
        'placement', 'step', 'epoch', 'movedKeys', 'idealKeys', 'movedFraction', 'minimalFraction', 'peakToMeanKeys', 'peakToMeanExact',
      ]);
    });

    // How fast it runs is a benchmark's question, not a test's (a loaded CI machine is no clock).
    it('runs the default scenario as a table', async function () {
      this.timeout(60_000);
      const r = await run(['simulate']);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/^simulate: 4 shards, 100000 keys, 160 points per unit weight/);
      expect(r.out.match(/^(hashed|balanced|ketama) +(add|remove|weight)/gm)).to.have.length(12);
    });

    it('refuses bad numbers and steps with exit 2', async () => {
      for (const argv of [['--shards', '0'], ['--keys', 'many'], ['--vnodes', '5000'], ['--steps', 'explode'], ['--steps', ',']]) {
        const r = await run(['simulate', ...argv]);
        expect(r.code, argv.join(' ')).to.equal(2);
        expect(errorLine(r).code).to.equal(ErrorCode.usage);
      }
    });

    it('reports a step on an unknown shard as a topology error (exit 2)', async () => {
      const r = await run(['simulate', '--keys', '100', '--steps', 'remove:zz']);
      expect(r.code).to.equal(2);
      expect(errorLine(r).code).to.equal(ErrorCode.topologyUnknownShard);
    });
  });
});
