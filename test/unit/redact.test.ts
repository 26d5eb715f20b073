import { expect } from 'chai';
import fc from 'fast-check';
import { REDACTED, redactText, redactUri, redactedJson } from '../../src/redact.js';
import { leakOf, secretUri } from '../support/secret-uris.js';

describe('redact', () => {
  describe('#redactUri', () => {
    const cases: Array<[string, string]> = [
      ['mongodb://user:secret@h1:27017/app', 'mongodb://user:****@h1:27017/app'],
      ['mongodb+srv://user:secret@cluster.example.net/app?retryWrites=true', 'mongodb+srv://user:****@cluster.example.net/app?retryWrites=true'],
      ['mongodb://user:p%40ss@h1,h2,h3/app?replicaSet=rs0', 'mongodb://user:****@h1,h2,h3/app?replicaSet=rs0'],
      // Unencoded `@` and `/` in the password: the last `@` before the query ends the user info.
      ['mongodb://user:p@ss/w@h1/app', 'mongodb://user:****@h1/app'],
      ['mongodb://user:pa?ss@h1', 'mongodb://user:****@h1'],
      ['mongodb://127.0.0.1:27101/app', 'mongodb://127.0.0.1:27101/app'],
      ['mongodb://user@h1/app', 'mongodb://user@h1/app'],
      ['mongodb://h1/app?appName=a@b', 'mongodb://h1/app?appName=a@b'],
      ['not a uri', 'not a uri'],
      // Issue 8: two of the three old redactors printed this one whole.
      ['mongodb://app:pa/ss@db1', 'mongodb://app:****@db1'],
      // Issue 8: the old redactors cut at the first `@` and printed `ss@db1`.
      ['mongodb://app:p@ss@db1', 'mongodb://app:****@db1'],
      ['mongodb://app:p ss@db1', 'mongodb://app:****@db1'],
      // What the collection's old private redactor made of `app:p@ss@db1`: `ss` must not survive.
      ['mongodb://****@ss@db1', 'mongodb://****@db1'],
      ['mongodb://us@er@db1', 'mongodb://****@db1'],
      // A reference is the secret's name, not the secret.
      ['mongodb://app:${SHARD1_PASSWORD}@db1/app', 'mongodb://app:${SHARD1_PASSWORD}@db1/app'],
      ['mongodb://app:x${SHARD1_PASSWORD}@db1/app', 'mongodb://app:****@db1/app'],
      ['mongodb://h/app?proxyPassword=hunter2&appName=a', 'mongodb://h/app?proxyPassword=****&appName=a'],
      ['mongodb://h/app?tlsCertificateKeyFilePassword=hunter2', 'mongodb://h/app?tlsCertificateKeyFilePassword=****'],
      [
        'mongodb://h/app?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:hunter2,X:y',
        'mongodb://h/app?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:****,X:y',
      ],
    ];
    for (const [input, expected] of cases) {
      context(`when given ${input}`, () => {
        it(`returns ${expected}`, () => {
          expect(redactUri(input)).to.equal(expected);
        });
      });
    }

    it('masks exactly the password of any generated URI, escaped or raw', () => {
      fc.assert(
        fc.property(secretUri, (s) => {
          expect(redactUri(s.uri)).to.equal(s.redacted);
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('#redactText', () => {
    it('masks every password in free text and leaves other text alone', () => {
      const text = 'connect mongodb://a:one@h1/x failed; then "mongodb+srv://b:two@h2" and mongodb://h3:27017/y';
      expect(redactText(text)).to.equal(
        'connect mongodb://a:****@h1/x failed; then "mongodb+srv://b:****@h2" and mongodb://h3:27017/y',
      );
    });

    it('is idempotent', () => {
      fc.assert(
        fc.property(secretUri, fc.string(), (s, around) => {
          const once = redactText(`${around} ${s.uri} ${around}`);
          expect(redactText(once)).to.equal(once);
        }),
      );
    });

    it('never lets a generated password through, whatever surrounds the URI', () => {
      const contexts = fc.constantFrom(
        (u: string) => `connect ${u} failed`,
        (u: string) => `"${u}"`,
        (u: string) => `'${u}','mongodb://other:x@h9'`,
        (u: string) => `(${u})`,
        (u: string) => `uri=${u};next`,
        (u: string) => `${u}\n  at line 3`,
        // The collection's old private redactor, applied first, as a layer that still has it would.
        (u: string) => u.replace(/(mongodb(?:\+srv)?:\/\/)[^@/\s]+@/gi, '$1****@'),
      );
      fc.assert(
        fc.property(secretUri, contexts, (s, wrap) => {
          const out = redactText(wrap(s.uri));
          expect(leakOf(out, s.password), out).to.equal(undefined);
          expect(out).to.include(REDACTED);
        }),
        { numRuns: 500 },
      );
    });
  });

  describe('#redactedJson', () => {
    it('masks passwords in every string of a document and keeps the rest', () => {
      const doc = { uri: 'mongodb://a:one@h1/x', nested: [{ message: 'down: mongodb://b:"two"@h2' }], n: 3 };
      expect(JSON.parse(redactedJson(doc, 2))).to.deep.equal({
        uri: 'mongodb://a:****@h1/x',
        nested: [{ message: 'down: mongodb://b:****@h2' }],
        n: 3,
      });
    });

    it('never lets a generated password through', () => {
      fc.assert(
        fc.property(secretUri, (s) => {
          const out = redactedJson({ shards: [{ uri: s.uri }], error: `cannot reach ${s.uri}` });
          expect(leakOf(out, s.password), out).to.equal(undefined);
        }),
        { numRuns: 300 },
      );
    });
  });
});
