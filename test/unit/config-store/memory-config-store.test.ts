import { expect } from 'chai';
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import { configStoreContract, stableState } from './contract.js';
import { InstantClock, runMigrations } from './migrations.js';

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

describe('MemoryConfigStore retention', function () {
  context('after 20 migrations', function () {
    it('holds the current state only and keeps counting lock generations', async function () {
      this.timeout(60_000);
      const clock = new InstantClock(1_700_000_000_000);
      const store = new MemoryConfigStore({ clock });
      const epoch = await runMigrations({ config: store, clock, count: 20 });
      // A migration from e ends at e+3: 1 + 20 x 3.
      expect(epoch).to.equal(61);
      expect((await store.load())?.epoch).to.equal(61);
      // Each migration took the lock once (renewals keep the generation): the next take is the 21st.
      expect((await store.acquireLock('after', 1000)).generation).to.equal(21);
    });
  });
});
