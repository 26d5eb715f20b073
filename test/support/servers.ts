/**
 * Where integration tests find MongoDB-wire servers. `scripts/with-test-servers.sh` exports the env;
 * a developer who started servers by hand (`scripts/test-servers.sh start N`) gets them from the env
 * file in the state dir. No server is a loud failure, never a silent skip.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The shard servers and the config server integration tests run against. */
export interface TestServerUris {
  /** One URI per shard server (at least one). */
  readonly shards: string[];
  /** The config server's URI (falls back to the first shard's when only shards were given). */
  readonly config: string;
}

function readEnvFile(): Record<string, string> {
  const state = process.env['SHARDKIT_STATE'] ?? '/tmp/shardkit-test-servers';
  try {
    const text = readFileSync(join(state, 'env'), 'utf8');
    const out: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
    }
    return out;
  } catch {
    return {};
  }
}

/**
 * The test servers: `SHARDKIT_MONGO_URIS` (comma list) and `SHARDKIT_CONFIG_URI` from the
 * environment, else from `$SHARDKIT_STATE/env`. Throws when neither names a server.
 */
export function testServerUris(): TestServerUris {
  const fromFile = process.env['SHARDKIT_MONGO_URIS'] === undefined ? readEnvFile() : {};
  const list = process.env['SHARDKIT_MONGO_URIS'] ?? fromFile['SHARDKIT_MONGO_URIS'] ?? '';
  const shards = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const first = shards[0];
  if (first === undefined) {
    throw new Error(
      'no test servers: set SHARDKIT_MONGO_URIS (comma-separated MongoDB URIs) or run the tests through ' +
        '`bash scripts/with-test-servers.sh <cmd>` (or `scripts/test-servers.sh start N` first)',
    );
  }
  const config = process.env['SHARDKIT_CONFIG_URI'] ?? fromFile['SHARDKIT_CONFIG_URI'] ?? first;
  return { shards, config };
}

/**
 * A database name no other test run uses, so parallel runs and reruns never see each other's data.
 * `prefix` should name the suite (letters, digits, `_`); the result stays under MongoDB's 63 bytes.
 */
export function uniqueDbName(prefix = 'sktest'): string {
  const clean = prefix.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 32);
  return `${clean}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}
