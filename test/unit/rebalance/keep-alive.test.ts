import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/lone-migration.ts', import.meta.url));

describe('Migrator on the system clock', () => {
  context('when nothing but the migration keeps the process alive', () => {
    it('its lease waits keep the process alive until the migration ends (regression: exit 13 mid-wait on unref\'d timers)', async () => {
      // Without coverage (Node hands NODE_V8_COVERAGE to every child unless the env sets it): c8's
      // merge of this child's one plain migration with the suite's run hid most of what the suite
      // covers in src/rebalance (legs.ts 92% -> 68%).
      const { stdout } = await run(process.execPath, ['--import', 'tsx', fixture], { env: { ...process.env, NODE_V8_COVERAGE: '' } });
      expect(JSON.parse(stdout)).to.deep.equal({ outcome: 'completed', epoch: 4 });
    });
  });
});
