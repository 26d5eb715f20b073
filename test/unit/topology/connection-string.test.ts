import { createRequire } from 'node:module';
import { expect } from 'chai';
import fc from 'fast-check';
import { MongoClient } from 'mongodb';
import { connectionStringProblem, splitConnectionString } from '../../../src/topology/connection-string.js';
import { DRIVER_URI_OPTIONS } from '../../../src/topology/uri-options.js';
import { leakOf, secretUri } from '../../support/secret-uris.js';

/** What the installed driver makes of `uri` without connecting: its hosts and user, or its refusal. */
function driverReading(uri: string): { hosts: string[]; username: string | undefined } | { error: string } {
  try {
    const client = new MongoClient(uri);
    return { hosts: client.options.hosts.map(String), username: client.options.credentials?.username };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe('connection-string', () => {
  describe('#connectionStringProblem', () => {
    const accepted = [
      'mongodb://127.0.0.1:27101/app',
      'mongodb://app:p%40ss%2Fw@db1:27017,db2:27017/app?replicaSet=rs0&w=majority',
      'mongodb://app:pä密@db1/app',
      'mongodb://[::1]:27017/app',
      'mongodb+srv://svc:pa55@cluster.example.net/app?retryWrites=true',
      'mongodb://h/app?REPLICASET=rs0',
      'mongodb://h/app?appName=a%40b',
      'mongodb://h/app?readPreference=secondary&readPreferenceTags=dc:ny&readPreferenceTags=',
    ];
    for (const uri of accepted) {
      it(`accepts ${uri}`, () => {
        expect(connectionStringProblem(uri)).to.equal(null);
      });
    }

    const refused: Array<[string, string, RegExp]> = [
      ['a port that is not a number (issue 8)', 'mongodb://h:notaport/app', /"h:notaport" is not a name.*port in 1\.\.65535/],
      ['an unknown option (issue 8)', 'mongodb://h:27017/app?bogus=1', /unknown option "bogus"/],
      ['a port out of range', 'mongodb://h1,h2:65536/app', /"h2:65536".*port/],
      ['port zero', 'mongodb://h:0/app', /port/],
      ['an unescaped @ in the password, which the driver reads as host "ss" (issue 8)', 'mongodb://app:p@ss@db1', /'@' after the user info/],
      ['an unescaped @ and / in the password, which the driver reads as host "ss" and db "w@db1"', 'mongodb://app:p@ss/w@db1', /'@' after the user info/],
      ['an unescaped / in the password (issue 8)', 'mongodb://app:pa/ss@db1', /password contains a raw/],
      ['an unescaped : in the password', 'mongodb://app:pa:ss@db1', /password contains a raw/],
      ['a % that starts no escape', 'mongodb://app:100%@db1', /'%' as %25/],
      // Ambiguous with an unescaped `@` in a password (`app:p@h/app?appName=a` as the password).
      ['an @ in an option value', 'mongodb://app:p@h/app?appName=a@b', /'@' after the user info/],
      ['an option given twice', 'mongodb://h/app?w=1&W=majority', /"W" appears more than once/],
      ['a space', 'mongodb://app:pa ss@db1', /whitespace/],
      ['another scheme', 'postgres://u:secret@h/', /must start with mongodb:\/\//],
      ['no host', 'mongodb:///app', /no host/],
      ['an empty host', 'mongodb://h1,,h2/app', /empty entry/],
      ['an srv URI with a port', 'mongodb+srv://c.example.net:27017/app', /port/],
      ['an unclosed IPv6 bracket', 'mongodb://[::1:27017/app', /"\[::1:27017" is not a name/],
    ];
    for (const [what, uri, reason] of refused) {
      context(`when given ${what}`, () => {
        it('says why without quoting the password', () => {
          const problem = connectionStringProblem(uri);
          expect(problem).to.match(reason);
          expect(problem).to.not.match(/secret|pa\/ss|p@ss|pa:ss|pa ss|100%@/);
        });
      });
    }

    it('never quotes a generated password', () => {
      fc.assert(
        fc.property(secretUri, (s) => {
          const problem = connectionStringProblem(s.uri);
          if (s.written === 'escaped') expect(problem).to.equal(null);
          if (problem !== null) expect(leakOf(problem, s.password), problem).to.equal(undefined);
        }),
        { numRuns: 300 },
      );
    });

    it('accepts a generated URI only when the driver reads the hosts and user written in it', () => {
      fc.assert(
        fc.property(secretUri, (s) => {
          const reading = driverReading(s.uri);
          const hosts = s.redacted.slice('mongodb://app:****@'.length).split(/[/?]/, 1)[0]!.split(',');
          const asWritten = !('error' in reading) && reading.username === 'app' && reading.hosts.length === hosts.length;
          if (connectionStringProblem(s.uri) === null) expect(asWritten, JSON.stringify(reading)).to.equal(true);
        }),
        { numRuns: 200 },
      );
    });

    it('agrees with the driver on hosts, ports and option names', () => {
      const host = fc.oneof(
        fc.constantFrom('db1', 'db-2.example.net', '10.0.0.1', '[::1]', '[fe80::1%25eth0]', '%2Ftmp%2Fm.sock', 'h_x'),
        // No empty entry: the driver would try host "", which is refused on purpose.
        fc.constantFrom('h:', 'h:x', 'h:0', 'h:65535', 'h:65536', 'h:27017', 'h:+1', 'h:00027017', '[::1]:27017', '[::1', 'a:b:c'),
      );
      const option = fc.constantFrom('appName=x', 'replicaSet=rs0', 'w=majority', 'maxPoolSize=5', 'bogus=1', 'readpreference=primary', 'notAnOption=2', 'tls=false');
      const uri = fc
        .record({ hosts: fc.array(host, { minLength: 1, maxLength: 3 }), options: fc.array(option, { maxLength: 3 }) })
        .map(({ hosts, options }) => `mongodb://${hosts.join(',')}/app${options.length === 0 ? '' : `?${options.join('&')}`}`);
      fc.assert(
        fc.property(uri, (u) => {
          const ours = connectionStringProblem(u);
          const driver = driverReading(u);
          expect(ours === null, `${u}: ours ${String(ours)}, driver ${JSON.stringify(driver)}`).to.equal(!('error' in driver));
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('#splitConnectionString', () => {
    it('ends the user info at the first @, as the driver does', () => {
      expect(splitConnectionString('mongodb://app:p@ss@db1/x')).to.deep.include({ userinfo: 'app:p', hosts: 'ss', rest: '@db1/x' });
      expect(splitConnectionString('mongodb://h1,h2/x?a=1')).to.deep.include({ userinfo: undefined, hosts: 'h1,h2', rest: '/x?a=1', hostsAt: 10 });
    });
  });

  describe('DRIVER_URI_OPTIONS', () => {
    it("is the installed driver's option table", () => {
      // The driver's internal table: if this path moves in a driver upgrade, find the table again.
      const { OPTIONS } = createRequire(import.meta.url)('mongodb/lib/connection_string.js') as { OPTIONS: Record<string, unknown> };
      expect([...DRIVER_URI_OPTIONS].sort()).to.deep.equal(Object.keys(OPTIONS).map((k) => k.toLowerCase()).sort());
    });
  });
});
