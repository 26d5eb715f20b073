/** The one way tests wait for a rejection. */
import { expect } from 'chai';
import { ShardkitError } from '../../src/errors.js';

/** The `ShardkitError` `promise` rejects with; the test fails if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<ShardkitError> {
  try {
    await promise;
  } catch (error) {
    expect(error, String(error)).to.be.instanceOf(ShardkitError);
    return error as ShardkitError;
  }
  expect.fail('expected a rejection');
}
