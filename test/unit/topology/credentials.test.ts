import { expect } from 'chai';
import fc from 'fast-check';
import { MongoClient } from 'mongodb';
import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../../../src/errors.js';
import { resolveUri, uriProblem } from '../../../src/topology/credentials.js';
import { leakOf, password } from '../../support/secret-uris.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  expect.fail('expected a throw');
}

describe('credentials', () => {
  describe('#uriProblem', () => {
    const accepted = [
      '${SHARD1_URI}',
      'mongodb://app:${SHARD1_PASSWORD}@10.0.0.1:27017/app',
      'mongodb://${SHARD1_USER}:${SHARD1_PASSWORD}@10.0.0.1:27017/app?replicaSet=rs0',
      'mongodb+srv://svc:pre-${PW}-post@cluster.example.net/app',
      'mongodb://127.0.0.1:27101/app',
    ];
    for (const uri of accepted) {
      it(`accepts ${uri}`, () => {
        expect(uriProblem(uri)).to.equal(null);
      });
    }

    const refused: Array<[string, RegExp]> = [
      ['mongodb://10.0.0.1:${PORT}/app', /user name or password, nowhere else/],
      ['mongodb://h/app?appName=${APP}', /user name or password, nowhere else/],
      ['mongodb://${HOST}/app', /user name or password, nowhere else/],
      ['mongodb://app:${1PW}@h/app', /"\$\{1PW\}" is not a reference/],
      ['mongodb://app:${}@h/app', /"\$\{\}" is not a reference/],
      ['mongodb://app:${PW}@h:notaport/app', /"h:notaport" is not a name/],
      ['prefix${SHARD1_URI}', /whole URI, or for its user name or password/],
    ];
    for (const [uri, reason] of refused) {
      it(`refuses ${uri}`, () => {
        expect(uriProblem(uri)).to.match(reason);
      });
    }
  });

  describe('#resolveUri', () => {
    it('returns a literal URI unchanged', () => {
      expect(resolveUri('mongodb://app:p%40ss@h/app', {})).to.equal('mongodb://app:p%40ss@h/app');
    });

    it('replaces a whole-URI reference by the variable, as is', () => {
      expect(resolveUri('${SHARD1_URI}', { SHARD1_URI: 'mongodb://app:p%40ss@h/app' })).to.equal('mongodb://app:p%40ss@h/app');
    });

    it('percent-encodes a raw secret so the driver reads back exactly the secret', () => {
      fc.assert(
        fc.property(password, password, (user, pw) => {
          const uri = resolveUri('mongodb://${U}:${P}@db1:27017/app', { U: user, P: pw });
          const credentials = new MongoClient(uri).options.credentials;
          expect(credentials?.username).to.equal(user);
          expect(credentials?.password).to.equal(pw);
        }),
        { numRuns: 100 },
      );
    });

    it('defaults to process.env', () => {
      process.env['SHARDKIT_TEST_PASSWORD'] = 'p@ss';
      try {
        expect(resolveUri('mongodb://app:${SHARDKIT_TEST_PASSWORD}@h/app')).to.equal('mongodb://app:p%40ss@h/app');
      } finally {
        delete process.env['SHARDKIT_TEST_PASSWORD'];
      }
    });

    context('when a variable is unset or empty', () => {
      it('names the variable with a stable code', () => {
        for (const env of [{}, { SHARD1_PASSWORD: '' }]) {
          const error = thrown(() => resolveUri('mongodb://app:${SHARD1_PASSWORD}@h/app', env));
          expect(error).to.be.instanceOf(ShardkitInputError);
          expect((error as ShardkitInputError).code).to.equal(ErrorCode.envMissing);
          expect(error.message).to.match(/^environment variable SHARD1_PASSWORD is not set/);
        }
      });

      it('never prints the value of another variable of the same URI', () => {
        fc.assert(
          fc.property(password, (pw) => {
            const error = thrown(() => resolveUri('mongodb://app:${PW}@h/app?appName=x&replicaSet=rs0', { USER: pw }));
            expect(error.message).to.include('PW');
            const other = thrown(() => resolveUri('mongodb://${USER}:${PW}@h/app', { USER: 'app', OTHER: pw }));
            expect(leakOf(other.message, pw)).to.equal(undefined);
          }),
          { numRuns: 50 },
        );
      });
    });

    context('when a whole-URI variable holds no valid connection string', () => {
      it('says so without echoing the value', () => {
        fc.assert(
          fc.property(password, (pw) => {
            const bad = `mongodb://app:${pw}@@h:notaport/app`;
            const error = thrown(() => resolveUri('${SHARD1_URI}', { SHARD1_URI: bad }));
            expect((error as ShardkitInputError).code).to.equal(ErrorCode.configInvalid);
            expect(error.message).to.match(/^environment variable SHARD1_URI does not hold a valid connection string: /);
            expect(leakOf(error.message, pw), error.message).to.equal(undefined);
          }),
          { numRuns: 100 },
        );
      });

      it('does not follow a reference to another reference', () => {
        const error = thrown(() => resolveUri('${A}', { A: '${B}', B: 'mongodb://h' }));
        expect(error.message).to.match(/references do not nest/);
      });
    });

    context('when the URI itself is malformed', () => {
      it('is a misuse: the URI skipped validation', () => {
        const error = thrown(() => resolveUri('mongodb://app:p@ss@h/app', {}));
        expect(error).to.be.instanceOf(ShardkitInvalidArgumentError);
        expect(error.message).to.not.include('p@ss');
      });
    });
  });
});
