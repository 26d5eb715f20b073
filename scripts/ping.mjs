#!/usr/bin/env node
// Waits until every MongoDB-wire server given as an argument answers `ping`, or fails loudly.
// Usage: node scripts/ping.mjs URI... (env PING_TIMEOUT_MS, default 20000; PING_PIDS: comma list of
// the server pids, aligned with the URIs, so a server that exited fails at once instead of at the deadline).
// Exit 0 when all answered; 1 (with the last error per URI on stderr) when the deadline passed.
import { readFileSync } from 'node:fs';
import { MongoClient } from 'mongodb';

const uris = process.argv.slice(2);
if (uris.length === 0) {
  console.error('usage: node scripts/ping.mjs URI...');
  process.exit(2);
}
const timeoutMs = Number(process.env.PING_TIMEOUT_MS ?? 20000);
const deadline = Date.now() + timeoutMs;
const pids = (process.env.PING_PIDS ?? '').split(',').filter((p) => p.length > 0);

// A zombie keeps its pid but loses its command line: both count as exited.
function exited(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`).length === 0;
  } catch {
    return true;
  }
}

async function pingOnce(uri) {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
  } finally {
    await client.close(true).catch(() => {});
  }
}

async function waitFor(uri, index) {
  let last;
  const pid = pids[index];
  while (Date.now() < deadline) {
    if (pid !== undefined && exited(pid)) {
      last = new Error(`server process ${pid} exited`);
      break;
    }
    try {
      await pingOnce(uri);
      return null;
    } catch (error) {
      last = error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  // Never print credentials: only host:port.
  const where = uri.replace(/^mongodb(\+srv)?:\/\/([^@/]*@)?/, '');
  return `${where.split('/')[0]}: ${last instanceof Error ? last.message : String(last)}`;
}

const failures = (await Promise.all(uris.map((uri, i) => waitFor(uri, i)))).filter((f) => f !== null);
if (failures.length > 0) {
  for (const f of failures) console.error(`ping failed (deadline ${timeoutMs} ms): ${f}`);
  process.exit(1);
}
