import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeConfigStore,
  loadConfigFile,
  openConfigStore,
  parseConfigFile,
  redactedConfig,
} from '../../../src/config-store/config-file.js';
import { FileConfigStore } from '../../../src/config-store/file-config-store.js';
import { ErrorCode, ShardkitError, ShardkitInputError } from '../../../src/errors.js';

function failure(fn: () => unknown): ShardkitError {
  try {
    fn();
  } catch (error) {
    return error as ShardkitError;
  }
  throw new Error('expected a throw');
}

describe('config file', function () {
  describe('parseConfigFile', function () {
    context('when given the documented JSON example', function () {
      it('fills defaults and resolves paths against the base directory', function () {
        const config = parseConfigFile(
          JSON.stringify({
            configStore: { uri: 'mongodb://127.0.0.1:27100/shardkit' },
            name: 'users',
            collection: 'users',
            leaseMs: 5000,
            opTimeoutMs: 2000,
            topology: './topology.json',
          }),
          '/etc/shardkit',
        );
        expect(config).to.deep.equal({
          configStore: { kind: 'mongo', uri: 'mongodb://127.0.0.1:27100/shardkit' },
          name: 'users',
          collection: 'users',
          leaseMs: 5000,
          opTimeoutMs: 2000,
          refreshIntervalMs: 1666,
          topology: '/etc/shardkit/topology.json',
        });
      });
    });

    context('when given YAML with a file store and only the required fields', function () {
      it('applies every default', function () {
        const config = parseConfigFile('configStore:\n  file: state/users.json\nname: users\n', '/srv');
        expect(config).to.deep.equal({
          configStore: { kind: 'file', path: '/srv/state/users.json' },
          name: 'users',
          collection: 'users',
          leaseMs: 5000,
          opTimeoutMs: 2000,
          refreshIntervalMs: 1666,
        });
      });
    });

    context('when the mongo store names its db and collection', function () {
      it('keeps them', function () {
        const config = parseConfigFile(
          '{"configStore": {"uri": "mongodb+srv://c.example.net/", "db": "cfg", "collection": "meta"}, "name": "o", "refreshIntervalMs": 100}',
          '/',
        );
        expect(config.configStore).to.deep.equal({ kind: 'mongo', uri: 'mongodb+srv://c.example.net/', db: 'cfg', collection: 'meta' });
        expect(config.refreshIntervalMs).to.equal(100);
      });
    });

    context('when the file sets maxClockSkewMs', function () {
      it('keeps it; without it the field stays absent, so the store applies its default', function () {
        expect(parseConfigFile('{"configStore": {"uri": "mongodb://h/cfg"}, "name": "u", "maxClockSkewMs": 250}', '/').maxClockSkewMs).to.equal(250);
        expect(parseConfigFile('{"configStore": {"uri": "mongodb://h/cfg"}, "name": "u"}', '/')).not.to.have.property('maxClockSkewMs');
      });
    });

    context('when the file is wrong', function () {
      // Each case: the text, and a fragment the one-line message must contain.
      const cases: Array<[string, string, string]> = [
        ['empty', '   ', 'empty'],
        ['not JSON or YAML', '{"name": ', 'not valid JSON or YAML'],
        ['not an object', '[1, 2]', 'must hold an object'],
        ['unknown field', '{"configStore": {"file": "s"}, "name": "u", "leaseMS": 5}', '"leaseMS"'],
        ['no configStore', '{"name": "u"}', 'configStore is required'],
        ['both uri and file', '{"configStore": {"file": "s", "uri": "mongodb://h"}, "name": "u"}', 'exactly one'],
        ['neither uri nor file', '{"configStore": {"db": "x"}, "name": "u"}', 'exactly one'],
        ['unknown store field', '{"configStore": {"file": "s", "path": "x"}, "name": "u"}', '"path"'],
        ['db with a file store', '{"configStore": {"file": "s", "db": "x"}, "name": "u"}', 'only apply'],
        ['not a mongodb uri', '{"configStore": {"uri": "http://h"}, "name": "u"}', 'mongodb://'],
        ['a uri port that is not a number', '{"configStore": {"uri": "mongodb://h:notaport/cfg"}, "name": "u"}', '"h:notaport"'],
        ['a uri option the driver does not know', '{"configStore": {"uri": "mongodb://h/cfg?bogus=1"}, "name": "u"}', 'unknown option "bogus"'],
        ['a uri the driver would misread', '{"configStore": {"uri": "mongodb://u:p@ss@h/cfg"}, "name": "u"}', "'@' after the user info"],
        ['a reference outside the user info', '{"configStore": {"uri": "mongodb://${CFG_HOST}/cfg"}, "name": "u"}', 'nowhere else'],
        ['bad name', '{"configStore": {"file": "s"}, "name": "a b"}', 'name must be'],
        ['missing name', '{"configStore": {"file": "s"}}', 'name must be'],
        ['bad collection', '{"configStore": {"file": "s"}, "name": "u", "collection": "a$b"}', 'collection'],
        ['lease too short', '{"configStore": {"file": "s"}, "name": "u", "leaseMs": 10}', 'leaseMs must be an integer in 100..'],
        ['timeout not integer', '{"configStore": {"file": "s"}, "name": "u", "opTimeoutMs": 1.5}', 'opTimeoutMs'],
        ['lease as string', '{"configStore": {"file": "s"}, "name": "u", "leaseMs": "5000"}', 'leaseMs'],
        ['refresh above lease', '{"configStore": {"file": "s"}, "name": "u", "leaseMs": 1000, "refreshIntervalMs": 2000}', 'refreshIntervalMs'],
        ['negative clock skew', '{"configStore": {"file": "s"}, "name": "u", "maxClockSkewMs": -1}', 'maxClockSkewMs must be an integer in 0..60000'],
        ['empty topology path', '{"configStore": {"file": "s"}, "name": "u", "topology": ""}', 'topology'],
      ];
      for (const [label, text, fragment] of cases) {
        it(`rejects ${label} with shardkit.config.invalid`, function () {
          const error = failure(() => parseConfigFile(text, '/'));
          expect(error).to.be.instanceOf(ShardkitInputError);
          expect(error.code).to.equal(ErrorCode.configInvalid);
          expect(error.message).to.contain(fragment);
        });
      }
    });

    context('when a bad uri carries a password', function () {
      it('masks it in the message', function () {
        const error = failure(() => parseConfigFile('{"configStore": {"uri": "postgres://u:secret@h/"}, "name": "u"}', '/'));
        expect(error.message).not.to.contain('secret');
      });
    });
  });

  describe('loadConfigFile', function () {
    let dir: string;
    beforeEach(async function () {
      dir = await mkdtemp(join(tmpdir(), 'shardkit-conf-'));
    });
    afterEach(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    context('when the file exists', function () {
      it('resolves relative paths against its directory', async function () {
        const path = join(dir, 'shardkit.yaml');
        await writeFile(path, 'configStore: { file: ./state.json }\nname: users\ntopology: topo.yaml\n');
        const config = await loadConfigFile(path);
        expect(config.configStore).to.deep.equal({ kind: 'file', path: join(dir, 'state.json') });
        expect(config.topology).to.equal(join(dir, 'topo.yaml'));
      });
    });

    context('when the file is missing', function () {
      it('throws fileNotFound', async function () {
        const error = await loadConfigFile(join(dir, 'nope.json')).then(
          () => null,
          (e: unknown) => e as ShardkitError,
        );
        expect(error?.code).to.equal(ErrorCode.fileNotFound);
      });
    });

    context('when the file is invalid', function () {
      it('names the file in the message', async function () {
        const path = join(dir, 'bad.json');
        await writeFile(path, '{"name": "u"}');
        const error = await loadConfigFile(path).then(
          () => null,
          (e: unknown) => e as ShardkitError,
        );
        expect(error?.code).to.equal(ErrorCode.configInvalid);
        expect(error?.message).to.contain(path);
      });
    });
  });

  describe('openConfigStore', function () {
    context('when the config store uri names an unset environment variable', function () {
      it('fails naming the variable before connecting', async function () {
        const config = parseConfigFile('{"configStore": {"uri": "mongodb://admin:${CFG_PASSWORD}@db:27017/cfg"}, "name": "u"}', '/');
        expect(config.configStore.kind === 'mongo' && config.configStore.uri).to.equal('mongodb://admin:${CFG_PASSWORD}@db:27017/cfg');
        let error: unknown;
        try {
          await openConfigStore(config, { env: { OTHER: 'hunter2' } });
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(ShardkitInputError);
        expect((error as ShardkitInputError).code).to.equal(ErrorCode.envMissing);
        expect((error as Error).message).to.match(/environment variable CFG_PASSWORD is not set/);
      });
    });

    context('when the config names a file store', function () {
      it('opens a FileConfigStore on that path', async function () {
        const config = parseConfigFile('{"configStore": {"file": "/tmp/x-state.json"}, "name": "u"}', '/');
        const store = await openConfigStore(config);
        expect(store).to.be.instanceOf(FileConfigStore);
        expect((store as FileConfigStore).path).to.equal('/tmp/x-state.json');
      });
    });
  });

  describe('redactedConfig / describeConfigStore', function () {
    it('masks the config store password', function () {
      const config = parseConfigFile('{"configStore": {"uri": "mongodb://admin:hunter2@db:27017/cfg"}, "name": "u"}', '/');
      expect(JSON.stringify(redactedConfig(config))).not.to.contain('hunter2');
      expect(describeConfigStore(config.configStore)).to.equal('mongodb mongodb://admin:****@db:27017/cfg');
      expect(config.configStore.kind === 'mongo' && config.configStore.uri).to.contain('hunter2');
    });
  });
});
