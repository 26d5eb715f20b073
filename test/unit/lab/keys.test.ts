import { expect } from 'chai';
import { ErrorCode } from '../../../src/errors.js';
import { ketamaPoint } from '../../../src/hash/ketama.js';
import { xxhash32String } from '../../../src/hash/xxhash32.js';
import { KeySet, keysFromText, parseKeySpec, uniformKeys, zipfKeys } from '../../../src/lab/keys.js';
import { mulberry32, zipfSequence } from '../../../src/lab/zipf.js';

describe('lab keys', () => {
  it('hashes every key once under both seeds, and gives ring points per hash on demand', () => {
    const k = uniformKeys(50);
    expect(k.size).to.equal(50);
    expect(k.uniform).to.equal(true);
    expect(k.totalWeight).to.equal(50);
    expect(k.h1[7]).to.equal(xxhash32String('key:7'));
    expect(k.points('xxhash32')).to.equal(k.h1);
    expect(k.points('ketama')[3]).to.equal(ketamaPoint('key:3'));
    expect(k.points('ketama')).to.equal(k.points('ketama'));
  });

  it('weighs Zipf keys by the distribution itself', () => {
    const z = zipfKeys(100, 1.2);
    expect(z.kind).to.equal('zipf:1.2');
    expect(z.uniform).to.equal(false);
    expect(z.weights[0]).to.equal(1);
    expect(z.weights[9]).to.be.closeTo(1 / Math.pow(10, 1.2), 1e-15);
  });

  it('counts repeated keys of a key file as weight, up to a limit of distinct keys', () => {
    const k = keysFromText('log.txt', 'a\nb\n\na\nc\n a \nd\n', 3);
    expect(k.keys).to.deep.equal(['a', 'b', 'c']);
    expect([...k.weights]).to.deep.equal([3, 1, 1]);
    expect(() => keysFromText('empty.txt', '\n\n', 10)).to.throw().with.property('code', ErrorCode.usage);
    expect(() => new KeySet('x', ['a'], new Float64Array(2))).to.throw(/one weight per key/);
  });

  it('parses --keys', () => {
    expect(parseKeySpec('uniform')).to.deep.equal({ kind: 'uniform' });
    expect(parseKeySpec('zipf:0.99')).to.deep.equal({ kind: 'zipf', s: 0.99 });
    expect(parseKeySpec('file:/tmp/k.txt')).to.deep.equal({ kind: 'file', path: '/tmp/k.txt' });
    for (const bad of ['zipf:0', 'zipf:x', 'file:', 'gauss']) expect(() => parseKeySpec(bad), bad).to.throw().with.property('code', ErrorCode.usage);
  });

  it('keeps the seeded Zipf sampler the benchmarks use (moved here from bench/lib)', () => {
    expect(zipfSequence(1000, 0.99, 5, 42)).to.deep.equal(zipfSequence(1000, 0.99, 5, 42));
    const seq = zipfSequence(1000, 1.5, 20_000, 1);
    expect(seq.filter((r) => r === 0).length).to.be.above(seq.filter((r) => r === 9).length * 10);
    const r = mulberry32(3);
    expect(r()).to.be.within(0, 1);
  });
});
