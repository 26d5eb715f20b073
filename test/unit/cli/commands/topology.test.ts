import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { planRebalance } from '../../../../src/rebalance/plan.js';
import { RING_SIZE } from '../../../../src/ring/move.js';
import { Ring } from '../../../../src/ring/ring.js';
import { Topology } from '../../../../src/topology/topology.js';
import { ErrorCode } from '../../../../src/errors.js';
import { errorLine, example, run, scratch } from '../helpers.js';

const SECRET_TOPOLOGY = JSON.stringify({
  name: 'secret',
  shards: [
    { id: 'a', uri: 'mongodb://admin:hunter2@10.0.0.1:27017/app' },
    { id: 'b', uri: 'mongodb+srv://svc:pa55@cluster.example.net/app' },
  ],
});

describe('topology commands', () => {
  const tmp = scratch();

  describe('validate', () => {
    it('accepts the JSON and YAML examples', async () => {
      for (const name of ['topology.json', 'topology.yaml', 'topology-5.json']) {
        const r = await run(['topology', 'validate', example(name)]);
        expect(r.code, r.err).to.equal(0);
        expect(r.out).to.match(/^ok: .*: topology app epoch \d, \d shards/);
      }
    });

    it('prints a JSON verdict with --json', async () => {
      const r = await run(['topology', 'validate', example('topology.yaml'), '--json']);
      expect(JSON.parse(r.out)).to.deep.equal({
        valid: true,
        file: example('topology.yaml'),
        format: 'yaml',
        name: 'app',
        epoch: 1,
        shards: 4,
        activeShards: 4,
      });
    });

    const invalid: Array<[string, string, string]> = [
      ['dup.json', '{"shards":[{"id":"a"},{"id":"a"}]}', ErrorCode.topologyDuplicateShard],
      ['weight.yaml', 'shards:\n  - id: a\n    weight: -1\n', ErrorCode.topologyBadWeight],
      ['field.yaml', 'shards:\n  - id: a\nreplicas: 2\n', ErrorCode.topologyUnknownField],
      ['syntax.json', '{"shards": [\n  {"id": "a",}\n]}', ErrorCode.topologyParse],
      ['syntax.yaml', 'shards: [a,\n b', ErrorCode.topologyParse],
      ['none.json', '{"shards": []}', ErrorCode.topologyNoShards],
    ];
    for (const [name, text, code] of invalid) {
      it(`rejects ${name} with exit 2 and ${code}`, async () => {
        const path = tmp.file(name, text);
        const r = await run(['topology', 'validate', path]);
        expect(r.code).to.equal(2);
        expect(r.out).to.equal('');
        const line = errorLine(r);
        expect(line.code).to.equal(code);
        expect(line.message.startsWith(`${path}: `)).to.equal(true);
      });
    }

    it('names the line and column of a syntax error', async () => {
      const r = await run(['topology', 'validate', tmp.file('loc.json', '{\n  "shards": [\n    {"id": "a",}\n  ]\n}')]);
      expect(errorLine(r).message).to.match(/bad JSON at line 3, column 16/);
    });

    it('exits 2 with shardkit.file.notFound for a missing file', async () => {
      const r = await run(['topology', 'validate', join(tmp.dir(), 'missing.json')]);
      expect(r.code).to.equal(2);
      expect(errorLine(r).code).to.equal(ErrorCode.fileNotFound);
    });

    it('never prints a password, even from a broken file', async () => {
      const r = await run(['topology', 'validate', tmp.file('broken.json', SECRET_TOPOLOGY.replace('}]', '},]'))]);
      expect(r.code).to.equal(2);
      expect(r.err).to.not.include('hunter2');
    });
  });

  describe('show', () => {
    it('prints the exact JSON shape with shares from Ring.arcs()', async () => {
      const r = await run(['topology', 'show', example('topology.json'), '--json']);
      expect(r.code).to.equal(0);
      const json = JSON.parse(r.out) as Record<string, unknown>;
      expect(Object.keys(json)).to.deep.equal(['name', 'epoch', 'hash', 'placement', 'vnodes', 'shards', 'shares', 'peakToMean']);
      const t = Topology.parse(readFileSync(example('topology.json'), 'utf8'));
      const arcs = Ring.fromTopology(t).arcs();
      expect(json['shares']).to.deep.equal(Object.fromEntries([...arcs].map(([id, a]) => [id, a / RING_SIZE])));
      expect(json['shards']).to.deep.equal(
        t.shards.map((s) => ({ id: s.id, weight: 1, uri: s.uri, points: 160 })),
      );
      const shares = Object.values(json['shares'] as Record<string, number>);
      expect(json['peakToMean']).to.equal(Math.max(...shares) / 0.25);
      expect(json).to.include({ name: 'app', epoch: 1, hash: 'xxhash32', placement: 'hashed', vnodes: 160 });
    });

    it('prints a plain table when stdout is not a terminal', async () => {
      const r = await run(['topology', 'show', example('topology.yaml')]);
      expect(r.code).to.equal(0);
      expect(r.out).to.match(/^topology app {2}epoch 1/);
      expect(r.out).to.match(/^s1 +1 +160 +\d+\.\d\d% +25\.00% +mongodb:\/\/127\.0\.0\.1:27101\/app$/m);
      expect(r.out).to.match(/peak\/mean \d\.\d{3}\n$/);
      expect(r.out).to.not.match(/[█▏▎▍▌▋▊▉]/);
    });

    it('draws a bar chart on a terminal', async () => {
      const r = await run(['topology', 'show', example('topology.yaml')], { isTTY: true });
      expect(r.out).to.include('load');
      expect(r.out).to.match(/█{20,}/);
    });

    it('redacts passwords in the table and the JSON', async () => {
      const path = tmp.file('secret.json', SECRET_TOPOLOGY);
      for (const extra of [[], ['--json']]) {
        const r = await run(['topology', 'show', path, ...extra]);
        expect(r.code).to.equal(0);
        expect(r.out).to.include('mongodb://admin:****@10.0.0.1:27017/app');
        expect(r.out).to.include('mongodb+srv://svc:****@cluster.example.net/app');
        expect(r.out).to.not.match(/hunter2|pa55/);
      }
    });

    it('shows a draining shard with no share', async () => {
      const path = tmp.file('drain.yaml', 'shards:\n  - id: a\n  - id: b\n    draining: true\n');
      const r = await run(['topology', 'show', path, '--json']);
      const json = JSON.parse(r.out) as { shares: Record<string, number>; shards: Array<{ uri: unknown; points: number }> };
      expect(json.shares).to.deep.equal({ a: 1, b: 0 });
      expect(json.shards[1]).to.deep.equal({ id: 'b', weight: 1, uri: null, points: 0 });
      const table = await run(['topology', 'show', path]);
      expect(table.out).to.include('b (draining)');
    });
  });

  describe('add-shard', () => {
    it('writes the new topology in the --out format with epoch + 1', async () => {
      const out = join(tmp.dir(), 'five.yaml');
      const r = await run(['topology', 'add-shard', example('topology.json'), '--id', 's5', '--uri', 'mongodb://127.0.0.1:27105/app', '--out', out]);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(/^wrote .*five\.yaml: add s5 \(weight 1\), epoch 1 -> 2; moves 19\.\d\d% of the hash space \(minimum 19\.\d\d%\)\n$/);
      const text = readFileSync(out, 'utf8');
      expect(text.trimStart().startsWith('{')).to.equal(false);
      const next = Topology.parse(text);
      const expected = Topology.parse(readFileSync(example('topology-5.json'), 'utf8'));
      expect(next.toJSON()).to.deep.equal(expected.toJSON());
    });

    it('keeps the input format when --out has no known extension, and passes --weight and --db', async () => {
      const out = join(tmp.dir(), 'next.topology');
      const r = await run(['topology', 'add-shard', example('topology.json'), '--id', 'big', '--weight', '2.5', '--db', 'big', '--out', out]);
      expect(r.code, r.err).to.equal(0);
      const text = readFileSync(out, 'utf8');
      expect(text.startsWith('{')).to.equal(true);
      expect(Topology.parse(text).shard('big')).to.deep.equal({ id: 'big', weight: 2.5, db: 'big' });
    });

    it('chooses tokens for a balanced topology', async () => {
      const input = tmp.file('balanced.yaml', 'placement: balanced\nvnodes: 16\nshards:\n  - id: a\n  - id: b\n');
      const out = join(tmp.dir(), 'balanced-3.yaml');
      const r = await run(['topology', 'add-shard', input, '--id', 'c', '--out', out]);
      expect(r.code, r.err).to.equal(0);
      const next = Topology.parse(readFileSync(out, 'utf8'));
      expect(next.shard('c')?.tokens).to.have.length(16);
      expect(readFileSync(out, 'utf8')).to.match(/tokens: \[ ?\d+/);
    });

    it('writes the topology to stdout with --out - and the summary to stderr', async () => {
      const r = await run(['topology', 'add-shard', example('topology.yaml'), '--id', 's5', '--out', '-']);
      expect(r.code).to.equal(0);
      expect(Topology.parse(r.out, 'yaml').epoch).to.equal(2);
      expect(r.err).to.match(/^wrote topology to stdout: add s5/);
    });

    it('prints the plan summary with --json', async () => {
      const out = join(tmp.dir(), 'json-summary.json');
      const r = await run(['topology', 'add-shard', example('topology.json'), '--id', 's5', '--out', out, '--json']);
      const json = JSON.parse(r.out) as Record<string, unknown>;
      const plan = planRebalance(Topology.parse(readFileSync(example('topology.json'), 'utf8')), Topology.parse(readFileSync(out, 'utf8')));
      expect(json).to.deep.equal({
        out,
        change: 'add s5 (weight 1)',
        fromEpoch: 1,
        toEpoch: 2,
        movedFraction: plan.movedFraction,
        minimalFraction: plan.minimalFraction,
        ratio: plan.movedFraction / plan.minimalFraction,
        perShard: plan.perShard,
      });
    });

    it('refuses --json with --out - (exit 2)', async () => {
      const r = await run(['topology', 'add-shard', example('topology.json'), '--id', 's5', '--out', '-', '--json']);
      expect(r.code).to.equal(2);
      expect(errorLine(r).code).to.equal(ErrorCode.usage);
    });

    it('refuses an existing id, a bad weight and a missing --id with exit 2', async () => {
      const out = join(tmp.dir(), 'never.json');
      const dup = await run(['topology', 'add-shard', example('topology.json'), '--id', 's1', '--out', out]);
      expect([dup.code, errorLine(dup).code]).to.deep.equal([2, ErrorCode.topologyDuplicateShard]);
      const weight = await run(['topology', 'add-shard', example('topology.json'), '--id', 's9', '--weight', 'heavy', '--out', out]);
      expect([weight.code, errorLine(weight).code]).to.deep.equal([2, ErrorCode.topologyBadWeight]);
      const noId = await run(['topology', 'add-shard', example('topology.json'), '--out', out]);
      expect([noId.code, errorLine(noId).code]).to.deep.equal([2, ErrorCode.usage]);
      expect(() => readFileSync(out)).to.throw();
    });
  });

  describe('remove-shard / set-weight / drain', () => {
    it('removes a shard', async () => {
      const out = join(tmp.dir(), 'removed.json');
      const r = await run(['topology', 'remove-shard', example('topology.json'), '--id', 's2', '--out', out]);
      expect(r.code, r.err).to.equal(0);
      const t = Topology.parse(readFileSync(out, 'utf8'));
      expect(t.shards.map((s) => s.id)).to.deep.equal(['s1', 's3', 's4']);
      expect(t.epoch).to.equal(2);
    });

    it('sets a weight', async () => {
      const out = join(tmp.dir(), 'weighted.yaml');
      const r = await run(['topology', 'set-weight', example('topology.yaml'), '--id', 's3', '--weight', '2', '--out', out, '--json']);
      expect(r.code, r.err).to.equal(0);
      expect(Topology.parse(readFileSync(out, 'utf8')).shard('s3')?.weight).to.equal(2);
      const json = JSON.parse(r.out) as { change: string; movedFraction: number; perShard: Record<string, { in: number }> };
      expect(json.change).to.equal('set weight of s3 to 2');
      expect(json.perShard['s3']?.in).to.equal(json.movedFraction);
    });

    it('drains a shard so it owns nothing', async () => {
      const out = join(tmp.dir(), 'drained.json');
      const r = await run(['topology', 'drain', example('topology.json'), '--id', 's4', '--out', out]);
      expect(r.code, r.err).to.equal(0);
      const shown = await run(['topology', 'show', out, '--json']);
      expect((JSON.parse(shown.out) as { shares: Record<string, number> }).shares['s4']).to.equal(0);
    });

    it('refuses an unknown shard with exit 2', async () => {
      for (const cmd of [['remove-shard'], ['set-weight', '--weight', '2'], ['drain']]) {
        const r = await run(['topology', ...cmd, example('topology.json'), '--id', 'nope', '--out', join(tmp.dir(), 'x.json')]);
        expect(r.code).to.equal(2);
        expect(errorLine(r).code).to.equal(ErrorCode.topologyUnknownShard);
      }
    });
  });
});

describe('topology --out (issue 10)', () => {
  const tmp = scratch();

  // Regression: `--out` to a missing directory failed with a raw `[ENOENT]` and exit 1.
  it('names a missing directory with a coded input error (exit 2)', async () => {
    const r = await run(['topology', 'add-shard', example('topology.json'), '--id', 's9', '--out', join(tmp.dir(), 'nope', 'new.json')]);
    expect(r.code).to.equal(2);
    expect(errorLine(r)).to.deep.equal({ message: `cannot write ${join(tmp.dir(), 'nope', 'new.json')}: directory ${join(tmp.dir(), 'nope')} does not exist`, code: 'shardkit.file.notWritable' });
  });

  // Regression: `--out` equal to the input silently replaced it.
  it('refuses to overwrite its input unless --force', async () => {
    const input = tmp.file('t.json', readFileSync(example('topology.json'), 'utf8'));
    const before = readFileSync(input, 'utf8');
    const r = await run(['topology', 'add-shard', input, '--id', 's9', '--out', input]);
    expect(r.code).to.equal(2);
    expect(errorLine(r).code).to.equal('shardkit.file.wouldOverwrite');
    expect(readFileSync(input, 'utf8')).to.equal(before);
    const forced = await run(['topology', 'add-shard', input, '--id', 's9', '--out', input, '--force']);
    expect(forced.code, forced.err).to.equal(0);
    expect(readFileSync(input, 'utf8')).to.include('"s9"');
  });

  it('prints a failure as one JSON object on stdout under --json', async () => {
    const r = await run(['topology', 'add-shard', example('topology.json'), '--id', 's9', '--out', join(tmp.dir(), 'nope', 'x.json'), '--json']);
    expect(r.code).to.equal(2);
    expect(JSON.parse(r.out)).to.deep.equal({ error: { code: 'shardkit.file.notWritable', message: errorLine(r).message } });
  });
});
