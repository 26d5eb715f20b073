import { expect } from 'chai';
import { LiveKeys } from '../../../src/demo/live-keys.js';
import { prng } from '../../../src/demo/writers.js';

describe('LiveKeys', function () {
  it('adds once, deletes from anywhere, and picks only live keys', function () {
    const keys = new LiveKeys();
    expect(keys.pick(Math.random)).to.equal(undefined);
    for (const id of ['a', 'b', 'c', 'd', 'a']) keys.add(id);
    expect(keys.size).to.equal(4);
    keys.delete('a');
    keys.delete('zz');
    keys.delete('c');
    expect(keys.size).to.equal(2);
    const random = prng(7);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(keys.pick(random)!);
    expect([...seen].sort()).to.deep.equal(['b', 'd']);
    keys.delete('b');
    keys.delete('d');
    expect(keys.size).to.equal(0);
    expect(keys.pick(random)).to.equal(undefined);
  });
});
