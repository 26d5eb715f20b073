import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/lone-migration.ts', import.meta.url));

describe('Migrator on the system clock', () => {
  context('when nothing but the migration keeps the process alive', () => {
    it('its lease waits keep the process alive until the migration ends (regression: exit 13 mid-wait on unref\'d timers)', async () => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture]);
      expect(JSON.parse(stdout)).to.deep.equal({ outcome: 'completed', epoch: 4 });
    });
  });
});
