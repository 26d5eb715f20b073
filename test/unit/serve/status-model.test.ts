import { expect } from 'chai';
import fc from 'fast-check';
import { Ring } from '../../../src/ring/ring.js';
import { CopyRate, migrationView, ringArcs } from '../../../src/serve/status-model.js';
import { journal, topology } from '../../support/serve-deployment.js';

const TOP = 0xffffffff;

describe('serve status model', function () {
  describe('ringArcs', function () {
    it('tiles the hash space in order, merges neighbours of one owner, and gives each shard its exact share', function () {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 64 }), (n, vnodes) => {
          const t = { ...topology(Array.from({ length: n }, (_, i) => `s${i}`)), vnodes };
          const { shards, arcs } = ringArcs(t);
          expect(shards).to.deep.equal(t.shards.map((s) => s.id));
          expect(arcs[0]![0]).to.equal(-1);
          expect(arcs.at(-1)![1]).to.equal(TOP);
          const owned = new Map<string, number>();
          arcs.forEach(([start, end, owner], i) => {
            expect(end).to.be.greaterThan(start);
            if (i > 0) {
              expect(start).to.equal(arcs[i - 1]![1]);
              expect(owner, 'merged').to.not.equal(arcs[i - 1]![2]);
            }
            owned.set(shards[owner]!, (owned.get(shards[owner]!) ?? 0) + (end - start));
          });
          // Ring.arcs() counts the wrap once: -1 .. TOP is 2^32 points, as here.
          for (const [id, size] of Ring.fromTopology(t).arcs()) expect(owned.get(id) ?? 0, id).to.equal(size);
        }),
        { numRuns: 40 },
      );
    });
  });

  describe('migrationView', function () {
    it('gives totals, per-move progress, the last phase each move finished, rate and ETA', function () {
      const view = migrationView(journal(10), 2000, 20);
      expect(view).to.deep.include({ id: 'm1', phase: 'copy', active: true, copied: 70, estimated: 100, docsPerSec: 10, etaMs: 3000 });
      expect(view.moves.map((m) => [m.from, m.to, m.copied, m.estimated, m.done])).to.deep.equal([
        ['s1', 's3', 10, 40, null],
        ['s2', 's3', 60, 60, 'sweep'],
      ]);
    });

    it('has no ETA before a rate is known, and none once the migration is done', function () {
      expect(migrationView(journal(10), 0, 0).etaMs).to.equal(null);
      const done = migrationView(journal(40, 'done'), 2000, 20);
      expect(done).to.deep.include({ active: false, outcome: 'completed', docsPerSec: 0, etaMs: 0 });
    });

    it('never shows an estimate below what was copied', function () {
      const j = journal(55);
      expect(migrationView(j, 1000, 1).moves[0]).to.deep.include({ copied: 55, estimated: 55 });
    });
  });

  describe('CopyRate', function () {
    it('counts what was copied within the window, and starts over for another migration', function () {
      const rate = new CopyRate(1000);
      expect(rate.observe('m1', 0, 0)).to.deep.equal({ windowMs: 0, docs: 0 });
      expect(rate.observe('m1', 50, 500)).to.deep.equal({ windowMs: 500, docs: 50 });
      expect(rate.observe('m1', 80, 1200)).to.deep.equal({ windowMs: 700, docs: 30 });
      expect(rate.observe('m2', 5, 1300)).to.deep.equal({ windowMs: 0, docs: 0 });
    });
  });
});
