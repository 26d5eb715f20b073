import { expect } from 'chai';
import { CommanderError } from 'commander';
import { ExitCode, INTERNAL_CODE, ReportedFailure, failureOf, reportFailure, wantsJson } from '../../../src/cli/fail.js';
import { captureIO } from '../../../src/cli/io.js';
import { ErrorCode, ShardkitConflictError, ShardkitError, ShardkitInputError, ShardkitInvalidArgumentError, ShardkitStoreError } from '../../../src/errors.js';

describe('fail', () => {
  describe('#failureOf', () => {
    context('when commander reports a usage error', () => {
      it('maps it to shardkit.usage and exit 2 without the "error:" prefix', () => {
        const f = failureOf(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--nope'"));
        expect(f).to.deep.equal({ message: "unknown option '--nope'", code: ErrorCode.usage, exitCode: ExitCode.usage });
      });
    });

    context('when commander displayed help or the version', () => {
      it('is not a failure', () => {
        expect(failureOf(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')).exitCode).to.equal(0);
        expect(failureOf(new CommanderError(0, 'commander.version', '0.1.0')).exitCode).to.equal(0);
      });
    });

    context('when help was shown because a subcommand is missing', () => {
      it('is a usage failure', () => {
        const f = failureOf(new CommanderError(1, 'commander.help', '(outputHelp)'));
        expect(f.code).to.equal(ErrorCode.usage);
        expect(f.exitCode).to.equal(2);
      });
    });

    it('gives input and misuse errors exit 2 and their own code', () => {
      expect(failureOf(new ShardkitInputError(ErrorCode.topologyBadWeight, 'w'))).to.deep.equal({
        message: 'w',
        code: ErrorCode.topologyBadWeight,
        exitCode: 2,
      });
      expect(failureOf(new ShardkitInvalidArgumentError('x')).exitCode).to.equal(2);
    });

    it('gives runtime and conflict errors exit 1', () => {
      expect(failureOf(new ShardkitStoreError(ErrorCode.storeUnavailable, 'down')).exitCode).to.equal(1);
      expect(failureOf(new ShardkitConflictError(ErrorCode.staleEpoch, 'stale')).exitCode).to.equal(1);
    });

    // Issue 10 asks for no raw Node codes in the code slot: a syscall code is no stable shardkit code.
    it('keeps a syscall code in the message and reports shardkit.internal', () => {
      const eacces = Object.assign(new Error('permission denied'), { code: 'EACCES' });
      expect(failureOf(eacces)).to.deep.equal({ message: 'permission denied (EACCES)', code: INTERNAL_CODE, exitCode: 1 });
      expect(failureOf(new TypeError('boom')).code).to.equal(INTERNAL_CODE);
      expect(failureOf('a string')).to.deep.equal({ message: 'a string', code: INTERNAL_CODE, exitCode: 1 });
    });

    it('folds a multi-line message into one line and masks passwords', () => {
      const f = failureOf(new ShardkitStoreError(ErrorCode.storeFailure, 'cannot reach\n  mongodb://root:s3cret@h:1/app\n'));
      expect(f.message).to.equal('cannot reach mongodb://root:****@h:1/app');
    });

    it('gives an aborted migration exit 3, an unhealthy deployment 4 and an interrupt 130', () => {
      expect(failureOf(new ShardkitConflictError(ErrorCode.migrationAborted, 'aborted')).exitCode).to.equal(ExitCode.aborted);
      expect(failureOf(new ShardkitStoreError(ErrorCode.unhealthy, 'down')).exitCode).to.equal(ExitCode.unhealthy);
      expect(failureOf(new ShardkitError(ErrorCode.interrupted, 'stopped')).exitCode).to.equal(ExitCode.interrupted);
      expect(new Set(Object.values(ExitCode)).size).to.equal(Object.keys(ExitCode).length);
    });
  });

  describe('#reportFailure with json', () => {
    // Regression (issue 10): under --json a failure was text on stderr only and stdout stayed empty.
    it('also prints one {"error":{code,message}} line on stdout', () => {
      const io = captureIO();
      const code = reportFailure(io, new ShardkitInputError(ErrorCode.fileNotFound, 'cannot read x'), { json: true });
      expect(code).to.equal(2);
      expect(JSON.parse(io.out())).to.deep.equal({ error: { code: 'shardkit.file.notFound', message: 'cannot read x' } });
      expect(io.err()).to.equal('error: cannot read x [shardkit.file.notFound]\n');
    });

    it('adds nothing to stdout for a failure the command already reported', () => {
      const io = captureIO();
      const code = reportFailure(io, new ReportedFailure(new ShardkitStoreError(ErrorCode.unhealthy, 'unreachable shards: s2')), { json: true });
      expect(code).to.equal(4);
      expect(io.out()).to.equal('');
    });
  });

  describe('#wantsJson', () => {
    it('sees --json before any --', () => {
      expect(wantsJson(['status', '--json'])).to.equal(true);
      expect(wantsJson(['route', '--topology', 'f', '--', '--json'])).to.equal(false);
    });
  });

  describe('#reportFailure', () => {
    it('prints one line and returns the exit code', () => {
      const io = captureIO();
      const code = reportFailure(io, new ShardkitInputError(ErrorCode.topologyNoShards, 'none'));
      expect(code).to.equal(2);
      expect(io.err()).to.equal('error: none [shardkit.topology.noShards]\n');
      expect(io.out()).to.equal('');
    });

    it('prints nothing for a help request', () => {
      const io = captureIO();
      expect(reportFailure(io, new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).to.equal(0);
      expect(io.err()).to.equal('');
    });
  });
});
