/** Reading a shard-key value off a document (ADR 0008): dotted paths, missing values, arrays refused. */
import { expect } from 'chai';
import { ErrorCode, ShardkitError } from '../../../src/errors.js';
import { shardKeyValue, valueAtPath } from '../../../src/hash/key.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as ShardkitError).code;
  }
  return undefined;
}

describe('valueAtPath / shardKeyValue', () => {
  it('reads a top-level field and a dotted path', () => {
    expect(valueAtPath({ tenant: 'acme' }, 'tenant')).to.equal('acme');
    expect(valueAtPath({ account: { id: 7 } }, 'account.id')).to.equal(7);
    expect(valueAtPath({ account: 'flat' }, 'account.id')).to.equal(undefined);
    expect(valueAtPath({}, 'account.id')).to.equal(undefined);
  });

  it('refuses an array at the key or on its path with shardkit.key.invalid, as MongoDB refuses arrays in shard keys', () => {
    expect(codeOf(() => valueAtPath({ tenant: ['a'] }, 'tenant'))).to.equal(ErrorCode.keyInvalid);
    expect(codeOf(() => valueAtPath({ account: [{ id: 1 }] }, 'account.id'))).to.equal(ErrorCode.keyInvalid);
  });

  it('answers shardkit.shardKey.missing for no value and shardkit.key.invalid for a value that is no shard key', () => {
    expect(codeOf(() => shardKeyValue({}, 'tenant', 'doc'))).to.equal(ErrorCode.shardKeyMissing);
    expect(codeOf(() => shardKeyValue({ tenant: null }, 'tenant', 'doc'))).to.equal(ErrorCode.keyInvalid);
    expect(codeOf(() => shardKeyValue({ tenant: 1.5 }, 'tenant', 'doc'))).to.equal(ErrorCode.keyInvalid);
    expect(shardKeyValue({ tenant: 42 }, 'tenant', 'doc')).to.equal(42);
  });
});
