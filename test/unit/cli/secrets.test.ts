/**
 * Issue 8: no CLI printout, error line or `--json` output ever contains a password. Generated shard
 * and config-store URIs (passwords with `@ / : % ?` and non-ASCII, escaped and raw) go through every
 * command that can run in-process, on the happy path and on failures.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { leakOf, secretUri } from '../../support/secret-uris.js';
import type { SecretUri } from '../../support/secret-uris.js';
import { run, scratch } from './helpers.js';
import type { RunResult } from './helpers.js';

const files = scratch();

/** Every printout of a run, stdout and stderr. */
function printed(r: RunResult): string {
  return `${r.out}\n${r.err}`;
}

async function expectNoLeak(s: SecretUri, argv: string[]): Promise<RunResult> {
  const r = await run(argv);
  const leak = leakOf(printed(r), s.password);
  expect(leak, `${argv.join(' ')} printed the password (${JSON.stringify(leak)}):\n${printed(r)}`).to.equal(undefined);
  return r;
}

function topologyJson(uri: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ name: 'users', vnodes: 16, shards: [{ id: 's1', uri, ...extra }, { id: 's2', uri: 'mongodb://10.0.0.2:27017/app' }] });
}

describe('CLI output never holds a password', function () {
  this.timeout(120_000);

  it('topology validate, show and route, plain and --json', async function () {
    await fc.assert(
      fc.asyncProperty(secretUri, async (s) => {
        const file = files.file('topology.json', topologyJson(s.uri));
        const results: RunResult[] = [];
        for (const json of [[], ['--json']]) {
          results.push(
            await expectNoLeak(s, ['topology', 'validate', file, ...json]),
            await expectNoLeak(s, ['topology', 'show', file, ...json]),
            await expectNoLeak(s, ['route', '--topology', file, ...json, 'alice', 'bob']),
          );
        }
        // An escaped URI is valid: every command succeeds and `show` prints it masked.
        if (s.written === 'escaped') {
          for (const r of results) expect(r.code, r.err).to.equal(0);
          expect(results[1]!.out).to.include(s.redacted);
          expect(JSON.parse(results[4]!.out).shards[0].uri).to.equal(s.redacted);
        } else {
          for (const r of results) expect(r.code === 0 || /^error: .* \[shardkit\.topology\.invalid\]\n$/.test(r.err), r.err).to.equal(true);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('topology add-shard with the URI on the command line', async function () {
    await fc.assert(
      fc.asyncProperty(secretUri, async (s) => {
        const file = files.file('base.json', topologyJson('mongodb://10.0.0.1:27017/app'));
        const out = `${files.dir()}/next.json`;
        for (const json of [[], ['--json']]) {
          const r = await expectNoLeak(s, ['topology', 'add-shard', file, '--id', 's9', '--uri', s.uri, '--out', out, ...json]);
          if (s.written === 'escaped') expect(r.code, r.err).to.equal(0);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('failure lines of a topology file that does not parse or validate', async function () {
    await fc.assert(
      fc.asyncProperty(secretUri, async (s) => {
        const broken = [
          files.file('weight.json', topologyJson(s.uri, { weight: -1 })),
          files.file('unknown.json', topologyJson(s.uri, { colour: 'red' })),
          files.file('syntax.json', `{"shards": [{"id": "s1", "uri": ${JSON.stringify(s.uri)}}, }`),
          files.file('syntax.yaml', `shards:\n  - id: s1\n    uri: ${JSON.stringify(s.uri)}\n  bad: [\n`),
          files.file('dup.yaml', `name: users\nshards:\n  - id: s1\n    uri: ${JSON.stringify(s.uri)}\n    uri: ${JSON.stringify(s.uri)}\n`),
        ];
        for (const file of broken) {
          for (const json of [[], ['--json']]) {
            const r = await expectNoLeak(s, ['topology', 'show', file, ...json]);
            expect(r.code).to.equal(2);
            expect(r.err).to.match(/^error: .* \[shardkit\.topology\.\w+\]\n$/);
          }
        }
      }),
      { numRuns: 30 },
    );
  });

  // Found by the property above: V8 quoted `...":pwa@h"}, }"`, a slice that starts after the scheme,
  // so no redactor could recognize the URI in it.
  it('a JSON syntax error just after a short URI, for a topology and a config file', async function () {
    const s = { uri: 'mongodb://app:pwa@h', password: 'pwa', written: 'escaped', redacted: 'mongodb://app:****@h' } as const;
    const topology = files.file('cut.json', `{"shards": [{"id": "s1", "uri": ${JSON.stringify(s.uri)}}, }`);
    const config = files.file('cut-config.json', `{"configStore": {"uri": ${JSON.stringify(s.uri)}}, }`);
    expect((await expectNoLeak(s, ['topology', 'show', topology])).err).to.match(/^error: .*bad JSON at line 1, column \d+: [^"]+ \[shardkit\.topology\.parse\]\n$/);
    expect((await expectNoLeak(s, ['status', '--config', config])).err).to.match(/not valid JSON or YAML: bad JSON at line 1, column \d+: [^"]+ \[shardkit\.config\.invalid\]\n$/);
  });

  it('failure lines of a live command whose config store URI carries the password', async function () {
    await fc.assert(
      fc.asyncProperty(secretUri, async (s) => {
        const configs = [
          files.file('lease.json', JSON.stringify({ configStore: { uri: s.uri }, name: 'users', leaseMs: 1 })),
          files.file('field.json', JSON.stringify({ configStore: { uri: s.uri, colour: 'red' }, name: 'users' })),
          files.file('name.yaml', `configStore:\n  uri: ${JSON.stringify(s.uri)}\nname: "a b"\n`),
          files.file('syntax.json', `{"configStore": {"uri": ${JSON.stringify(s.uri)}}, }`),
          files.file('syntax.yaml', `configStore:\n  uri: ${JSON.stringify(s.uri)}\n bad: [\n`),
        ];
        for (const config of configs) {
          for (const argv of [['status', '--config', config], ['status', '--config', config, '--json'], ['rebalance', 'status', '--config', config, '--json']]) {
            const r = await expectNoLeak(s, argv);
            expect(r.err).to.match(/^error: .* \[shardkit\.config\.invalid\]\n$/);
          }
        }
      }),
      { numRuns: 30 },
    );
  });
});
