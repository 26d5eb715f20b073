import { ErrorCode, ShardkitInputError } from '../errors.js';
import { uriProblem } from './credentials.js';
import { redactUri } from '../redact.js';
import { HashName } from '../hash/types.js';
import { validateShardKeyPath } from './shard-key.js';
import { Placement } from './types.js';
import type { ShardSpec, TopologySpec } from './types.js';

/** Values a topology file may leave out. */
export const TOPOLOGY_DEFAULTS = Object.freeze({
  name: 'default',
  epoch: 1,
  hash: HashName.xxhash32,
  vnodes: 160,
  placement: Placement.hashed,
} as const);

/** Largest `vnodes` (points per unit weight) a topology may ask for. */
export const MAX_VNODES = 4096;
/**
 * Largest number of points one shard may own. Weight times vnodes beyond this is a typo (a weight
 * of 1e9), and building such a ring would exhaust memory rather than fail clearly.
 */
export const MAX_POINTS_PER_SHARD = 1 << 20;
/** Largest shard count: the ring stores owner indices in a Uint16Array. */
export const MAX_SHARDS = 0xffff;
/** What a shard id may look like. */
export const SHARD_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

const TOP_FIELDS: ReadonlySet<string> = new Set(['name', 'epoch', 'hash', 'vnodes', 'placement', 'shards', 'shardKey']);
const SHARD_FIELDS: ReadonlySet<string> = new Set(['id', 'weight', 'uri', 'db', 'tokens', 'draining']);
const HASHES: ReadonlySet<string> = new Set(Object.values(HashName));
const PLACEMENTS: ReadonlySet<string> = new Set(Object.values(Placement));
// MongoDB refuses these characters in database names.
const BAD_DB_CHARS = /[/\\. "$*<>:|?\0]/;

function fail(code: (typeof ErrorCode)[keyof typeof ErrorCode], message: string): never {
  throw new ShardkitInputError(code, message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A short printable form of a bad value for an error message (never a URI: callers redact those). */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function checkUnknownFields(obj: Record<string, unknown>, allowed: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      fail(
        ErrorCode.topologyUnknownField,
        `unknown field ${JSON.stringify(key)} in ${where} (allowed: ${[...allowed].join(', ')})`,
      );
    }
  }
}

/** Validate a shard id; throws `shardkit.topology.badId`. */
export function validateShardId(id: unknown, where = 'shard'): string {
  if (typeof id !== 'string' || !SHARD_ID_PATTERN.test(id)) {
    fail(ErrorCode.topologyBadId, `${where}: id must be 1..64 characters of [A-Za-z0-9._:-] (got ${show(id)})`);
  }
  return id;
}

/** Validate a weight; throws `shardkit.topology.badWeight`. */
export function validateWeight(weight: unknown, where = 'shard'): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    fail(ErrorCode.topologyBadWeight, `${where}: weight must be a finite number > 0 (got ${show(weight)})`);
  }
  return weight;
}

function validateShard(raw: unknown, index: number, placement: Placement, vnodes: number): ShardSpec {
  const where = `shards[${index}]`;
  if (!isPlainObject(raw)) fail(ErrorCode.topologyInvalid, `${where} must be an object (got ${show(raw)})`);
  checkUnknownFields(raw, SHARD_FIELDS, where);
  const id = validateShardId(raw['id'], where);
  const at = `shard ${id}`;
  const weight = raw['weight'] === undefined ? 1 : validateWeight(raw['weight'], where);
  if (Math.round(weight * vnodes) > MAX_POINTS_PER_SHARD) {
    fail(
      ErrorCode.topologyBadWeight,
      `${at}: weight ${weight} x vnodes ${vnodes} exceeds ${MAX_POINTS_PER_SHARD} points per shard`,
    );
  }
  const shard: { -readonly [K in keyof ShardSpec]: ShardSpec[K] } = { id, weight };

  const uri = raw['uri'];
  if (uri !== undefined) {
    if (typeof uri !== 'string') fail(ErrorCode.topologyInvalid, `${at}: uri must be a mongodb:// or mongodb+srv:// URI (got ${show(uri)})`);
    const problem = uriProblem(uri);
    if (problem !== null) fail(ErrorCode.topologyInvalid, `${at}: uri ${JSON.stringify(redactUri(uri))} is not valid: ${problem}`);
    shard.uri = uri;
  }
  const db = raw['db'];
  if (db !== undefined) {
    if (typeof db !== 'string' || db.length === 0 || db.length > 63 || BAD_DB_CHARS.test(db)) {
      fail(ErrorCode.topologyInvalid, `${at}: db must be a MongoDB database name of 1..63 characters (got ${show(db)})`);
    }
    shard.db = db;
  }
  const draining = raw['draining'];
  if (draining !== undefined) {
    if (typeof draining !== 'boolean') fail(ErrorCode.topologyInvalid, `${at}: draining must be true or false (got ${show(draining)})`);
    if (draining) shard.draining = true;
  }
  const tokens = raw['tokens'];
  if (tokens !== undefined) {
    if (placement !== Placement.balanced) {
      fail(ErrorCode.topologyBadTokens, `${at}: tokens are only allowed with balanced placement (placement is ${placement})`);
    }
    if (!Array.isArray(tokens)) fail(ErrorCode.topologyBadTokens, `${at}: tokens must be an array of uint32 (got ${show(tokens)})`);
    const seen = new Set<number>();
    for (const token of tokens as unknown[]) {
      if (typeof token !== 'number' || !Number.isInteger(token) || token < 0 || token > 0xffffffff) {
        fail(ErrorCode.topologyBadTokens, `${at}: token ${show(token)} is not a uint32`);
      }
      if (seen.has(token)) fail(ErrorCode.topologyBadTokens, `${at}: token ${token} appears twice`);
      seen.add(token);
    }
    shard.tokens = Object.freeze([...(tokens as number[])]);
  }
  return Object.freeze(shard);
}

/**
 * Check a plain object (from JSON, YAML or code) against the topology schema, fill the defaults and
 * return a deeply frozen, normalized copy. Each rule has its own stable code; the message is one line.
 * URIs are never echoed unredacted.
 */
export function validateTopologySpec(input: unknown): TopologySpec {
  if (!isPlainObject(input)) fail(ErrorCode.topologyInvalid, `a topology must be an object (got ${show(input)})`);
  checkUnknownFields(input, TOP_FIELDS, 'the topology');

  const name = input['name'] ?? TOPOLOGY_DEFAULTS.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > 128 || /[\0-\x1f]/.test(name)) {
    fail(ErrorCode.topologyInvalid, `name must be 1..128 printable characters (got ${show(name)})`);
  }
  const epoch = input['epoch'] ?? TOPOLOGY_DEFAULTS.epoch;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) {
    fail(ErrorCode.topologyBadEpoch, `epoch must be an integer >= 1 (got ${show(epoch)})`);
  }
  const hash = input['hash'] ?? TOPOLOGY_DEFAULTS.hash;
  if (typeof hash !== 'string' || !HASHES.has(hash)) {
    fail(ErrorCode.topologyUnknownHash, `unknown hash ${show(hash)} (known: ${[...HASHES].join(', ')})`);
  }
  const placement = input['placement'] ?? TOPOLOGY_DEFAULTS.placement;
  if (typeof placement !== 'string' || !PLACEMENTS.has(placement)) {
    fail(ErrorCode.topologyUnknownPlacement, `unknown placement ${show(placement)} (known: ${[...PLACEMENTS].join(', ')})`);
  }
  const vnodes = input['vnodes'] ?? TOPOLOGY_DEFAULTS.vnodes;
  if (typeof vnodes !== 'number' || !Number.isInteger(vnodes) || vnodes < 1 || vnodes > MAX_VNODES) {
    fail(ErrorCode.topologyBadVnodes, `vnodes must be an integer in 1..${MAX_VNODES} (got ${show(vnodes)})`);
  }

  const shardKey = input['shardKey'] === undefined ? undefined : validateShardKeyPath(input['shardKey']);

  const rawShards = input['shards'];
  if (rawShards === undefined) fail(ErrorCode.topologyNoShards, 'a topology needs at least one shard (shards is missing)');
  if (!Array.isArray(rawShards)) fail(ErrorCode.topologyInvalid, `shards must be an array (got ${show(rawShards)})`);
  if (rawShards.length === 0) fail(ErrorCode.topologyNoShards, 'a topology needs at least one shard (shards is empty)');
  if (rawShards.length > MAX_SHARDS) fail(ErrorCode.topologyInvalid, `a topology may have at most ${MAX_SHARDS} shards`);

  const shards: ShardSpec[] = [];
  const ids = new Set<string>();
  const tokenOwner = new Map<number, string>();
  (rawShards as unknown[]).forEach((raw, index) => {
    const shard = validateShard(raw, index, placement as Placement, vnodes);
    if (ids.has(shard.id)) fail(ErrorCode.topologyDuplicateShard, `duplicate shard id ${JSON.stringify(shard.id)}`);
    ids.add(shard.id);
    // Two shards claiming one token would make the owner of that point depend on sort order.
    for (const token of shard.tokens ?? []) {
      const other = tokenOwner.get(token);
      if (other !== undefined) fail(ErrorCode.topologyBadTokens, `token ${token} is claimed by both ${other} and ${shard.id}`);
      tokenOwner.set(token, shard.id);
    }
    shards.push(shard);
  });
  if (shards.every((s) => s.draining === true)) {
    fail(ErrorCode.topologyNoShards, 'a topology needs at least one shard that is not draining');
  }

  return Object.freeze({
    name,
    epoch,
    hash: hash as HashName,
    vnodes,
    placement: placement as Placement,
    shards: Object.freeze(shards),
    ...(shardKey === undefined ? {} : { shardKey }),
  });
}
