/**
 * The operator's config file (`shardkit … --config FILE`, JSON or YAML): where the config store
 * lives, which topology and collection, and the lease and timeout every router and migrator uses.
 * Documented in docs/configuration.md.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ErrorCode, ShardkitInputError } from '../errors.js';
import { resolveUri, uriProblem } from '../topology/credentials.js';
import { parseTopologyText } from '../topology/parse.js';
import type { Env } from '../topology/credentials.js';
import { redactUri } from '../redact.js';
import { FileConfigStore } from './file-config-store.js';
import { MongoConfigStore } from './mongo-config-store.js';
import type { Clock } from '../clock.js';
import type { ConfigStore } from './types.js';
import { optionalObject, requireObject, requireString } from '../arguments.js';

/** Where the config store lives. */
export type ConfigStoreLocation =
  | {
      readonly kind: 'mongo';
      /** MongoDB connection string. */
      readonly uri: string;
      /** Database; default: the URI's path, else `shardkit`. */
      readonly db?: string;
      /** Collection of the config documents; default `shardkit_config`. */
      readonly collection?: string;
    }
  | {
      readonly kind: 'file';
      /** Absolute path of the state file (relative paths resolve against the config file). */
      readonly path: string;
    };

/** A validated config file, defaults filled in. */
export interface ShardkitConfig {
  readonly configStore: ConfigStoreLocation;
  /** Topology name: keys the state in a shared config store. */
  readonly name: string;
  /** Application collection on every shard. Default: `name`. */
  readonly collection: string;
  /** Router lease on the routing state (ms). Default 5000. */
  readonly leaseMs: number;
  /** Per-request timeout on shards (ms). Default 2000. */
  readonly opTimeoutMs: number;
  /** Background refresh period of routers (ms). Default `floor(leaseMs / 3)`. */
  readonly refreshIntervalMs: number;
  /** Absolute path of the initial topology file, when given. */
  readonly topology?: string;
  /**
   * Clock skew allowed between a migrator host and a MongoDB config server (ms), when the file sets
   * it; the store's default (1000) otherwise. ADR 0007.
   */
  readonly maxClockSkewMs?: number;
}

/** Defaults of the optional fields. */
export const CONFIG_DEFAULTS = { leaseMs: 5000, opTimeoutMs: 2000 } as const;

const TOP_LEVEL = new Set(['configStore', 'name', 'collection', 'leaseMs', 'opTimeoutMs', 'refreshIntervalMs', 'topology', 'maxClockSkewMs']);
const STORE_FIELDS = new Set(['uri', 'db', 'collection', 'file']);
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

function invalid(message: string, cause?: unknown): ShardkitInputError {
  return new ShardkitInputError(ErrorCode.configInvalid, message, cause === undefined ? {} : { cause });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(redactUri(value)) : JSON.stringify(value) ?? String(value);
}

function integerField(obj: Record<string, unknown>, field: string, fallback: number, min: number, max: number): number {
  const value = obj[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be an integer in ${min}..${max} (milliseconds), got ${show(value)}`);
  }
  return value;
}

function stringField(obj: Record<string, unknown>, field: string, where: string): string | undefined {
  const value = obj[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${where}${field} must be a non-empty string, got ${show(value)}`);
  return value;
}

function parseText(text: string): unknown {
  if (text.trim() === '') throw invalid('the config file is empty');
  try {
    // The topology files' parser: one line with a location, and never the parser's quote of the
    // input, which could cut a connection string where the redactor cannot recognize it.
    return parseTopologyText(text);
  } catch (error) {
    if (!(error instanceof ShardkitInputError)) throw error;
    throw invalid(`the config file is not valid JSON or YAML: ${error.message}`, error);
  }
}

function parseStore(value: unknown, baseDir: string): ConfigStoreLocation {
  if (!isObject(value)) throw invalid('configStore must be an object: { "uri": "mongodb://…" } or { "file": "./state.json" }');
  for (const key of Object.keys(value)) {
    if (!STORE_FIELDS.has(key)) throw invalid(`configStore: unknown field ${JSON.stringify(key)} (known: uri, db, collection, file)`);
  }
  const uri = stringField(value, 'uri', 'configStore.');
  const file = stringField(value, 'file', 'configStore.');
  if ((uri === undefined) === (file === undefined)) throw invalid('configStore needs exactly one of "uri" and "file"');
  if (file !== undefined) {
    if (value['db'] !== undefined || value['collection'] !== undefined) {
      throw invalid('configStore: "db" and "collection" only apply to a "uri" store');
    }
    return { kind: 'file', path: resolve(baseDir, file) };
  }
  const problem = uriProblem(uri as string);
  if (problem !== null) throw invalid(`configStore.uri ${show(uri)} is not valid: ${problem}`);
  const db = stringField(value, 'db', 'configStore.');
  const collection = stringField(value, 'collection', 'configStore.');
  return { kind: 'mongo', uri: uri as string, ...(db === undefined ? {} : { db }), ...(collection === undefined ? {} : { collection }) };
}

/**
 * Validate a config file's text. Relative paths (`configStore.file`, `topology`) resolve against
 * `baseDir`, the config file's directory. Throws `shardkit.config.invalid` naming the bad field.
 */
export function parseConfigFile(text: string, baseDir: string): ShardkitConfig {
  const raw = parseText(text);
  if (!isObject(raw)) throw invalid('the config file must hold an object');
  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL.has(key)) throw invalid(`unknown field ${JSON.stringify(key)} (known: ${[...TOP_LEVEL].join(', ')})`);
  }
  if (raw['configStore'] === undefined) throw invalid('configStore is required');
  const configStore = parseStore(raw['configStore'], baseDir);
  const name = raw['name'];
  if (typeof name !== 'string' || !NAME.test(name)) throw invalid(`name must be 1..64 characters of [A-Za-z0-9._-], got ${show(name)}`);
  const collection = stringField(raw, 'collection', '') ?? name;
  if (collection.includes('$') || collection.includes('\0') || collection.startsWith('system.')) {
    throw invalid(`collection ${show(collection)} is not a valid MongoDB collection name`);
  }
  const leaseMs = integerField(raw, 'leaseMs', CONFIG_DEFAULTS.leaseMs, 100, 3_600_000);
  const opTimeoutMs = integerField(raw, 'opTimeoutMs', CONFIG_DEFAULTS.opTimeoutMs, 1, 600_000);
  const refreshIntervalMs = integerField(raw, 'refreshIntervalMs', Math.floor(leaseMs / 3), 1, leaseMs);
  const topology = stringField(raw, 'topology', '');
  const maxClockSkewMs = raw['maxClockSkewMs'] === undefined ? undefined : integerField(raw, 'maxClockSkewMs', 0, 0, 60_000);
  return {
    configStore,
    name,
    collection,
    leaseMs,
    opTimeoutMs,
    refreshIntervalMs,
    ...(topology === undefined ? {} : { topology: resolve(baseDir, topology) }),
    ...(maxClockSkewMs === undefined ? {} : { maxClockSkewMs }),
  };
}

/** Read and validate the config file at `path`; `shardkit.file.notFound` when there is none. */
export async function loadConfigFile(path: string): Promise<ShardkitConfig> {
  requireString(path, 'loadConfigFile(path): path');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      throw new ShardkitInputError(ErrorCode.fileNotFound, `cannot read config file ${path}: no such file`, { cause: error });
    }
    throw error;
  }
  try {
    return parseConfigFile(text, dirname(resolve(path)));
  } catch (error) {
    if (error instanceof ShardkitInputError) throw new ShardkitInputError(error.code, `${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** Options of {@link openConfigStore}. */
export interface OpenConfigStoreOptions {
  /** Time source of lock leases (default the system clock). */
  readonly clock?: Clock;
  /** Where `${NAME}` references in `configStore.uri` are resolved; default `process.env`. */
  readonly env?: Env;
}

/**
 * Open the config store a config file names. The caller closes it. Environment references in the
 * URI are resolved here, at connect time, and nowhere else.
 */
export async function openConfigStore(config: ShardkitConfig, options: OpenConfigStoreOptions = {}): Promise<ConfigStore> {
  requireObject(config, 'openConfigStore(config): config', 'a config from loadConfigFile');
  requireObject(config.configStore, 'openConfigStore: config.configStore', 'a config store location (loadConfigFile fills it)');
  optionalObject(options, 'openConfigStore(config, options): options');
  const location = config.configStore;
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  if (location.kind === 'file') return new FileConfigStore(location.path, clock);
  return MongoConfigStore.connect({
    uri: resolveUri(location.uri, options.env),
    name: config.name,
    opTimeoutMs: Math.max(config.opTimeoutMs, 1000),
    ...(location.db === undefined ? {} : { db: location.db }),
    ...(location.collection === undefined ? {} : { collection: location.collection }),
    ...(config.maxClockSkewMs === undefined ? {} : { maxClockSkewMs: config.maxClockSkewMs }),
    ...clock,
  });
}

/** The config with every URI password masked: for printouts. */
export function redactedConfig(config: ShardkitConfig): ShardkitConfig {
  if (config.configStore.kind === 'file') return config;
  return { ...config, configStore: { ...config.configStore, uri: redactUri(config.configStore.uri) } };
}

/** A one-line description of where the config store lives, passwords masked. */
export function describeConfigStore(location: ConfigStoreLocation): string {
  return location.kind === 'file' ? `file ${location.path}` : `mongodb ${redactUri(location.uri)}`;
}
