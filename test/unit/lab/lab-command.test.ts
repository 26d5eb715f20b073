import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ErrorCode } from '../../../src/errors.js';
import { SCHEME_NAMES } from '../../../src/lab/schemes/registry.js';
import { errorLine, run, scratch } from '../cli/helpers.js';

describe('lab command', () => {
  const tmp = scratch();

  it('lists its options in --help', async () => {
    const r = await run(['lab', '--help']);
    expect(r.code).to.equal(0);
    for (const flag of ['--schemes', '--workload', '--keys', '--json', '--svg', '--maglev-size', '--probes', '--load-factor']) expect(r.out).to.include(flag);
  });

  it('prints a summary per scheme and, with --steps, every step', async () => {
    const r = await run(['lab', '--workload', 'grow:3..4+reweight:1', '--sample', '2000', '--steps', '--schemes', 'hashed,jump']);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/^lab: grow:3\.\.4\+reweight:1 \(3 shards, 2 steps\), 2000 uniform keys/);
    expect(r.out).to.match(/hashed\s+1\s+add:s4\s+4\s+1\.000/);
    expect(r.out).to.include('moved/min mean');
    expect(r.out).to.match(/jump step 2 weight:\S+ \(ignored\): jump hash has no weights/);
  });

  it('prints the whole result with --json and writes both charts with --svg', async () => {
    const dir = join(tmp.dir(), 'charts');
    const r = await run(['lab', '--workload', 'grow:2..4', '--sample', '1000', '--keys', 'zipf:1.1', '--json', '--svg', dir]);
    expect(r.code, r.err).to.equal(0);
    const json = JSON.parse(r.out) as { schemes: string[]; rows: unknown[]; summary: unknown[]; keys: { kind: string } };
    expect(json.schemes).to.deep.equal([...SCHEME_NAMES]);
    expect(json.rows).to.have.length(SCHEME_NAMES.length * 3);
    expect(json.summary).to.have.length(SCHEME_NAMES.length);
    expect(json.keys.kind).to.equal('zipf:1.1');
    for (const f of ['moved-over-minimal.svg', 'peak-to-mean.svg']) {
      const svg = readFileSync(join(dir, f), 'utf8');
      expect(svg.match(/class="series"/g)).to.have.length(SCHEME_NAMES.length);
    }
  });

  it('reads a workload of topology files and a key file', async () => {
    tmp.file('t1.json', JSON.stringify({ name: 'x', shards: [{ id: 'a' }, { id: 'b' }] }));
    tmp.file('t2.yaml', 'name: x\nepoch: 2\nshards:\n  - id: a\n  - id: b\n  - id: c\n    weight: 2\n');
    const workload = tmp.file('history.json', JSON.stringify({ topologies: ['t1.json', 't2.yaml'] }));
    const keys = tmp.file('keys.txt', 'u1\nu2\nu3\nu1\n');
    const r = await run(['lab', '--workload', `file:${workload}`, '--keys', `file:${keys}`, '--schemes', 'rendezvous', '--json']);
    expect(r.code, r.err).to.equal(0);
    const json = JSON.parse(r.out) as { workload: { steps: string[] }; keys: { count: number; kind: string } };
    expect(json.workload.steps).to.deep.equal(['t2.yaml']);
    expect(json.keys).to.deep.equal({ kind: 'file:keys.txt', count: 3 });
  });

  for (const [argv, code, re] of [
    [['lab', '--schemes', 'ring'], ErrorCode.usage, /unknown scheme "ring"/],
    [['lab', '--maglev-size', '100'], ErrorCode.usage, /must be a prime/],
    [['lab', '--maglev-size', '3', '--workload', 'grow:4..5'], ErrorCode.usage, /must exceed the shard count/],
    [['lab', '--workload', 'grow:4..4'], ErrorCode.usage, /no steps/],
    [['lab', '--keys', 'zipf:-1'], ErrorCode.usage, /zipf:S/],
    [['lab', '--sample', '0'], ErrorCode.usage, /--sample/],
    [['lab', '--workload', 'file:/nonexistent/w.yaml'], ErrorCode.fileNotFound, /no such file/],
  ] as const) {
    it(`fails with one line and exit 2 for ${argv.slice(1).join(' ')}`, async () => {
      const r = await run([...argv]);
      expect(r.code).to.equal(2);
      const line = errorLine(r);
      expect(line.code).to.equal(code);
      expect(line.message).to.match(re);
    });
  }
});
