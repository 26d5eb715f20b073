import { expect } from 'chai';
import { captureIO } from '../../../src/cli/io.js';
import { noteIfSlow } from '../../../src/cli/slow-note.js';

function after(ms: number, value: string): Promise<string> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

describe('noteIfSlow', () => {
  it('says what a step does once it has run longer than its limit, and answers what the step answers', async () => {
    const io = captureIO();
    expect(await noteIfSlow(io, 'status: counting...', after(60, 'done'), 10)).to.equal('done');
    expect(io.err()).to.equal('status: counting...\n');
  });

  it('says nothing about a step that ends in time, nor later', async () => {
    const io = captureIO();
    expect(await noteIfSlow(io, 'status: counting...', after(1, 'done'), 40)).to.equal('done');
    await after(60, '');
    expect(io.err()).to.equal('');
  });

  it('passes a failure through without a note', async () => {
    const io = captureIO();
    const failing = Promise.reject(new Error('count timed out'));
    const error = await noteIfSlow(io, 'verify: reading...', failing, 40).catch((e: unknown) => e);
    expect((error as Error).message).to.equal('count timed out');
    await after(60, '');
    expect(io.err()).to.equal('');
  });
});
