import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));

describe('cli/main', () => {
  context('when the reader closes the pipe early (`shardkit ... | head`)', () => {
    it('exits 0 without a stack trace', async function () {
      this.timeout(60_000);
      // Far more than a pipe buffer (64 KiB), so writes are still going when the reader leaves.
      const keys = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);
      const topology = fileURLToPath(new URL('../../../examples/topology.json', import.meta.url));
      const child = spawn(process.execPath, ['--import', 'tsx', main, 'route', '--json', '--topology', topology, ...keys], {
        stdio: ['ignore', 'pipe', 'pipe'],
        // c8 merges raw V8 ranges across processes by URL; a tsx child's ranges for the same files
        // corrupt the parent's, so this child reports no coverage. Empty, not absent: Node copies a
        // missing NODE_V8_COVERAGE into a child's environment.
        env: { ...process.env, NODE_V8_COVERAGE: '' },
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // Read the first chunk, then go away as `head -1` does.
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(stderr).to.not.match(/EPIPE|\n\s+at /);
      expect(code).to.equal(0);
    });
  });
});
