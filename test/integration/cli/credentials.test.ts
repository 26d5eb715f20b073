/**
 * Credentials by environment reference against a real config server: the config store is reached
 * through `${VAR}`, and what `shardkit init` stores keeps the shard's reference, never the secret.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { captureIO } from '../../../src/cli/io.js';
import { runCli } from '../../../src/cli/program.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const CONFIG_VAR = 'SHARDKIT_IT_CONFIG_URI';
const PASSWORD_VAR = 'SHARDKIT_IT_SHARD_PASSWORD';
const SECRET = 'pw-h@rd/to:guess?ä';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIO();
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('credentials by environment reference', function () {
  this.timeout(60_000);
  const servers = testServerUris();
  const db = uniqueDbName('creds');
  let dir: string;
  let configPath: string;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'shardkit-creds-'));
    const topology = {
      name: 'creds',
      vnodes: 16,
      shards: [{ id: 's1', uri: `mongodb://app:\${${PASSWORD_VAR}}@127.0.0.1:27017/app`, db: `${db}_s1` }],
    };
    await writeFile(join(dir, 'topology.json'), JSON.stringify(topology));
    configPath = join(dir, 'shardkit.json');
    await writeFile(configPath, JSON.stringify({ configStore: { uri: `\${${CONFIG_VAR}}`, db }, name: 'creds', topology: './topology.json' }));
  });

  afterEach(function () {
    delete process.env[CONFIG_VAR];
    delete process.env[PASSWORD_VAR];
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
    const client = await MongoClient.connect(servers.config);
    await client.db(db).dropDatabase().catch(() => undefined);
    await client.close();
  });

  it('names the missing variable and exits 2', async function () {
    const r = await cli('status', '--config', configPath);
    expect(r.code).to.equal(2);
    expect(r.err).to.equal(`error: environment variable ${CONFIG_VAR} is not set (or empty); the connection string \${${CONFIG_VAR}} needs it [shardkit.config.envMissing]\n`);
  });

  it('reaches the config store through the reference and stores the shard uri with its reference, not the secret', async function () {
    process.env[CONFIG_VAR] = servers.config;
    process.env[PASSWORD_VAR] = SECRET;
    const init = await cli('init', '--config', configPath, '--no-indexes', '--json');
    expect(init.err).to.equal('');
    expect(JSON.parse(init.out)).to.deep.include({ name: 'creds', epoch: 1, published: true });

    const client = await MongoClient.connect(servers.config);
    try {
      const stored = JSON.stringify(await client.db(db).collection('shardkit_config').find().toArray());
      expect(stored).to.include(`mongodb://app:\${${PASSWORD_VAR}}@127.0.0.1:27017/app`);
      expect(stored).to.not.include(SECRET);
      expect(stored).to.not.include(encodeURIComponent(SECRET));
    } finally {
      await client.close();
    }

    const status = await cli('rebalance', 'status', '--config', configPath, '--json');
    expect(status.code, status.err).to.equal(0);
    expect(JSON.parse(status.out)).to.deep.include({ name: 'creds', configStore: `mongodb \${${CONFIG_VAR}}` });
  });
});
