import { expect } from 'chai';
import { captureIO } from '../../../src/cli/io.js';
import { commandGroup, parseNumberOption } from '../../../src/cli/options.js';
import { createProgram } from '../../../src/cli/program.js';
import { ErrorCode, ShardkitInputError } from '../../../src/errors.js';
import { errorLine, run } from './helpers.js';

const COMMANDS = [
  ['topology'],
  ['topology', 'validate'],
  ['topology', 'show'],
  ['topology', 'add-shard'],
  ['topology', 'remove-shard'],
  ['topology', 'set-weight'],
  ['topology', 'drain'],
  ['route'],
  ['plan'],
  ['simulate'],
];

describe('program', () => {
  describe('#runCli', () => {
    it('prints help with every top-level command and exits 0', async () => {
      const r = await run(['--help']);
      expect(r.code).to.equal(0);
      expect(r.err).to.equal('');
      for (const name of ['topology', 'route', 'plan', 'simulate']) expect(r.out).to.include(name);
    });

    for (const argv of COMMANDS) {
      it(`answers ${argv.join(' ')} --help with usage and exit 0`, async () => {
        const r = await run([...argv, '--help']);
        expect(r.code).to.equal(0);
        expect(r.out).to.match(new RegExp(`^Usage: shardkit ${argv.join(' ')}`));
      });
    }

    it('prints the version', async () => {
      const r = await run(['--version']);
      expect(r.code).to.equal(0);
      expect(r.out).to.match(/^\d+\.\d+\.\d+\n$/);
    });

    context('when the command is unknown', () => {
      it('prints one usage error line and exits 2', async () => {
        const r = await run(['frobnicate']);
        expect(r.code).to.equal(2);
        expect(errorLine(r)).to.deep.equal({ message: "unknown command 'frobnicate'", code: ErrorCode.usage });
        expect(r.out).to.equal('');
      });
    });

    context('when an option is unknown', () => {
      it('exits 2 with shardkit.usage', async () => {
        const r = await run(['route', '--topology', 'examples/topology.json', '--nope', 'k']);
        expect(r.code).to.equal(2);
        expect(errorLine(r).code).to.equal(ErrorCode.usage);
        expect(errorLine(r).message).to.include('--nope');
      });
    });

    context('when a required option is missing', () => {
      it('exits 2 with shardkit.usage', async () => {
        const r = await run(['route', 'k1']);
        expect(r.code).to.equal(2);
        expect(errorLine(r).message).to.include('--topology');
      });
    });

    context('when a command group is called without a subcommand', () => {
      it('shows its help on stderr and exits 2', async () => {
        const r = await run(['topology']);
        expect(r.code).to.equal(2);
        expect(r.err).to.include('Usage: shardkit topology');
        expect(errorLine(r).code).to.equal(ErrorCode.usage);
      });
    });
  });

  describe('#commandGroup', () => {
    it('returns the existing group so several files can add subcommands to it', () => {
      const program = createProgram(captureIO());
      const group = commandGroup(program, 'topology', 'ignored');
      expect(group.commands.map((c) => c.name())).to.include('validate');
      const fresh = commandGroup(program, 'config', 'Config store commands');
      expect(program.commands).to.include(fresh);
      expect(fresh.description()).to.equal('Config store commands');
    });
  });

  describe('#parseNumberOption', () => {
    it('accepts numbers in range and refuses the rest with a usage error', () => {
      expect(parseNumberOption('--n', '12', { integer: true, min: 1, max: 20 })).to.equal(12);
      expect(parseNumberOption('--w', '0.5')).to.equal(0.5);
      for (const bad of ['', 'x', '1.5', '0', '21']) {
        expect(() => parseNumberOption('--n', bad, { integer: true, min: 1, max: 20 }))
          .to.throw(ShardkitInputError)
          .with.property('code', ErrorCode.usage);
      }
      expect(() => parseNumberOption('--n', '-1', { min: 0 })).to.throw(/>= 0/);
    });
  });
});
