import { expect } from 'chai';
import { redactText, redactUri } from '../../../src/topology/redact.js';

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
    ];
    for (const [input, expected] of cases) {
      context(`when given ${input}`, () => {
        it(`returns ${expected}`, () => {
          expect(redactUri(input)).to.equal(expected);
        });
      });
    }
  });

  describe('#redactText', () => {
    it('masks every password in free text and leaves other text alone', () => {
      const text = 'connect mongodb://a:one@h1/x failed; then "mongodb+srv://b:two@h2" and mongodb://h3:27017/y';
      expect(redactText(text)).to.equal(
        'connect mongodb://a:****@h1/x failed; then "mongodb+srv://b:****@h2" and mongodb://h3:27017/y',
      );
    });
  });
});
