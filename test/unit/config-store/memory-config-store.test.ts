import { expect } from 'chai';
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import { configStoreContract, stableState } from './contract.js';

configStoreContract('MemoryConfigStore', async (clock) => {
  const store = new MemoryConfigStore({ clock: clock.asClock });
  return { store, open: async () => store, cleanup: async () => store.close() };
});

describe('MemoryConfigStore', function () {
  describe('#constructor', function () {
    context('when given an initial state', function () {
      it('starts with it published', async function () {
        const store = new MemoryConfigStore({ initial: stableState(4) });
        expect(await store.load()).to.deep.equal(stableState(4));
        await store.compareAndSet(4, stableState(5));
        expect((await store.load())?.epoch).to.equal(5);
      });
    });
  });
});
