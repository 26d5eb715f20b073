import { expect } from 'chai';
import { ROUTER_LEASE_WAITS } from '../../../../src/cli/plan-report.js';
import { errorLine, run } from '../helpers.js';

const FAST = ['--docs', '200', '--shards', '2', '--writers', '1', '--lease-ms', '50', '--batch-size', '20'];

describe('shardkit demo', function () {
  this.timeout(90_000);

  context('when run with --json', () => {
    it('prints a report whose invariants all hold and exits 0', async () => {
      const result = await run(['demo', ...FAST, '--json']);
      expect(result.err).to.equal('');
      expect(result.code).to.equal(0);
      const report = JSON.parse(result.out) as { ok: boolean; shards: number; docs: number; invariants: Array<{ ok: boolean }> };
      expect(report.ok).to.equal(true);
      expect([report.docs, report.shards]).to.deep.equal([200, 2]);
      expect(report.invariants.every((i) => i.ok)).to.equal(true);
    });
  });

  context('when run for a person (not a TTY)', () => {
    it('tells the story in plain lines and ends with the verdict', async () => {
      const result = await run(['demo', ...FAST]);
      expect(result.code).to.equal(0);
      expect(result.out).to.match(/^shardkit demo: 200 documents on 2 embedded shards/);
      expect(result.out).to.match(/plan: add s3, epoch 1 -> 2: moves \d+\.\d\d% of the hash space/);
      expect(result.out).to.contain('phase copy at epoch 2');
      expect(result.out).to.contain('migration completed');
      // No more router-lease waits than `plan --config` counts. The waits before cleanup and purge follow
      // their publish at once and are always announced; the one before the sweep is not when the copy
      // outlasted it (a slow machine), so the count is 2 or 3.
      const waits = result.out.match(/for every router's lease/g)?.length ?? 0;
      expect(waits).to.be.within(ROUTER_LEASE_WAITS - 1, ROUTER_LEASE_WAITS);
      expect(result.out).to.not.contain('\u001b[');
      expect(result.out.trimEnd().split('\n').at(-1)).to.equal('OK: every invariant holds');
    });
  });

  context('when run on a TTY', () => {
    it('draws bars per shard pair and an overall bar', async () => {
      const result = await run(['demo', ...FAST], { isTTY: true });
      expect(result.code).to.equal(0);
      expect(result.out).to.match(/s1 -> s3 +[█░]+ +\d+%/);
      expect(result.out).to.match(/overall +[█░]+ +\d+%/);
    });
  });

  context('when asked for help', () => {
    it('describes the migration as the settle/purge protocol runs it', async () => {
      const result = await run(['demo', '--help']);
      expect(result.code).to.equal(0);
      const help = result.out.replace(/\s+/g, ' ');
      expect(help).to.contain('epoch e to e+3');
      expect(help).to.contain('waits it out three times');
      expect(help).to.not.contain('twice');
    });
  });

  context('when an option is bad', () => {
    for (const args of [['--docs', '0'], ['--shards', 'x'], ['--mongo', 'http://example.com'], ['--mongo', ' , ']]) {
      it(`refuses ${args.join(' ')} with a usage error (exit 2)`, async () => {
        const result = await run(['demo', ...args]);
        expect(result.code).to.equal(2);
        expect(errorLine(result).code).to.equal('shardkit.usage');
      });
    }
  });
});
