import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { integerKey } from '../../../../src/cli/commands/route.js';
import { ErrorCode } from '../../../../src/errors.js';
import { Ring } from '../../../../src/ring/ring.js';
import { Topology } from '../../../../src/topology/topology.js';
import { errorLine, example, run, scratch } from '../helpers.js';

describe('route command', () => {
  const files = scratch();
  const ring = Ring.fromTopology(Topology.parse(readFileSync(example('topology.json'), 'utf8')));

  it('prints [{key, shard, point}] matching the ring', async () => {
    const keys = ['alice', 'bob', 'carol', 'dave', '42'];
    const r = await run(['route', '--topology', example('topology.json'), '--json', ...keys]);
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out)).to.deep.equal(
      keys.map((key) => ({ key, shard: ring.route(key), point: ring.hash.point(key) })),
    );
  });

  it('routes JSON and YAML forms of a topology alike', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    const a = await run(['route', '--topology', example('topology.json'), '--json', ...keys]);
    const b = await run(['route', '--topology', example('topology.yaml'), '--json', ...keys]);
    expect(a.out).to.equal(b.out);
  });

  it('treats keys as integers with --int (numbers in JSON, big ones as digit strings)', async () => {
    const r = await run(['route', '--topology', example('topology.json'), '--int', '--json', '42', '-7', '123456789012345678901234']);
    expect(r.code, r.err).to.equal(0);
    const rows = JSON.parse(r.out) as Array<{ key: unknown; shard: string; point: number }>;
    expect(rows.map((x) => x.key)).to.deep.equal([42, -7, '123456789012345678901234']);
    expect(rows[0]).to.deep.equal({ key: 42, shard: ring.route('42'), point: ring.hash.point('42') });
    expect(rows[2]?.shard).to.equal(ring.route(123456789012345678901234n));
  });

  it('refuses a non-integer with --int (exit 2, shardkit.key.invalid)', async () => {
    const r = await run(['route', '--topology', example('topology.json'), '--int', '4.2']);
    expect(r.code).to.equal(2);
    expect(errorLine(r).code).to.equal(ErrorCode.keyInvalid);
  });

  it('prints a table by default', async () => {
    const r = await run(['route', '--topology', example('topology.json'), 'alice']);
    expect(r.out).to.match(new RegExp(`^key +shard +point\\n[- ]+\\nalice +${ring.route('alice')} +${ring.hash.point('alice')}\\n$`));
  });

  it("routes shard-key values under a topology's shardKey, naming the key in the table", async () => {
    const spec = { ...JSON.parse(readFileSync(example('topology.json'), 'utf8')), shardKey: 'tenant' };
    const r = await run(['route', '--topology', files.file('t.json', JSON.stringify(spec)), 'acme']);
    expect(r.code).to.equal(0);
    expect(r.out).to.match(new RegExp(`^tenant +shard +point\\n[- ]+\\nacme +${ring.route('acme')} +${ring.hash.point('acme')}\\n$`));
  });

  it('needs at least one key (exit 2)', async () => {
    const r = await run(['route', '--topology', example('topology.json')]);
    expect(r.code).to.equal(2);
    expect(errorLine(r).code).to.equal(ErrorCode.usage);
  });

  describe('#integerKey', () => {
    it('keeps safe integers as numbers and larger ones as bigints', () => {
      expect(integerKey('9007199254740991')).to.equal(9007199254740991);
      expect(integerKey('9007199254740993')).to.equal(9007199254740993n);
      expect(() => integerKey('1e3')).to.throw(/not an integer/);
    });
  });
});
