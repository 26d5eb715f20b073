/**
 * Credentials kept out of files and stored state: a connection string in a topology or config file
 * may name its secret with an environment reference, and only the process that connects resolves it
 * (docs/configuration.md, "Credentials"). Two places are allowed:
 *
 * - the whole URI, `${SHARD1_URI}`: the variable holds a complete connection string, used as is;
 * - the user name or password, `mongodb://app:${SHARD1_PASSWORD}@10.0.0.1:27017/app`: the variable
 *   holds the raw secret, percent-encoded on substitution, so any password works without escaping.
 *
 * Everything stored (the topology in the config store, files written by `topology add-shard`) keeps
 * the reference; the resolved URI lives only in the connecting process.
 */
import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../errors.js';
import { connectionStringProblem, splitConnectionString } from './connection-string.js';
import { ENV_NAME, ENV_REFERENCE, isEnvReference } from '../env-reference.js';
import { redactUri } from '../redact.js';

/** Where a process finds the values of references (`process.env` by default). */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Why `uri`, references included, is not a usable connection string, or null when it is. A lone
 * `${NAME}` stands for a whole URI and cannot be checked before it is resolved; references elsewhere
 * must be well-formed and sit in the user info. The rest is {@link connectionStringProblem}.
 */
export function uriProblem(uri: string): string | null {
  if (isEnvReference(uri)) return null;
  const refs = [...uri.matchAll(ENV_REFERENCE)];
  for (const ref of refs) {
    if (!ENV_NAME.test(ref[1] as string)) return `${JSON.stringify(ref[0])} is not a reference: a name is letters, digits and _, not starting with a digit`;
  }
  if (refs.length > 0) {
    const parts = splitConnectionString(uri);
    const userinfoEnd = parts?.userinfo === undefined ? -1 : parts.hostsAt - 1;
    if (refs.some((ref) => (ref.index as number) + ref[0].length > userinfoEnd)) {
      return 'a ${NAME} reference may stand for the whole URI, or for its user name or password, nowhere else';
    }
  }
  // A resolved reference is percent-encoded, so any placeholder shows whether the rest is sound.
  return connectionStringProblem(uri.replace(ENV_REFERENCE, 'x'));
}

function lookup(name: string, env: Env, uri: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ShardkitInputError(
      ErrorCode.envMissing,
      `environment variable ${name} is not set (or empty); the connection string ${redactUri(uri)} needs it`,
    );
  }
  return value;
}

/**
 * The connection string to connect with: `uri` with its environment references replaced from
 * `env`. A literal URI comes back unchanged. Call it where a client is created, never before
 * storing or printing: the result holds the secret.
 *
 * @throws ShardkitInputError `shardkit.config.envMissing` naming the variable (never a value) when
 *   one is unset or empty; `shardkit.config.invalid` when a whole-URI variable holds no valid
 *   connection string.
 * @throws ShardkitInvalidArgumentError when `uri` itself is malformed (it skipped validation).
 */
export function resolveUri(uri: string, env: Env = process.env): string {
  const problem = uriProblem(uri);
  if (problem !== null) throw new ShardkitInvalidArgumentError(`connection string ${redactUri(uri)}: ${problem}`);
  if (isEnvReference(uri)) {
    const name = uri.slice(2, -1);
    const value = lookup(name, env, uri);
    const inner = isEnvReference(value) ? 'it holds another reference; references do not nest' : connectionStringProblem(value);
    if (inner !== null) {
      throw new ShardkitInputError(ErrorCode.configInvalid, `environment variable ${name} does not hold a valid connection string: ${inner}`);
    }
    return value;
  }
  return uri.replace(ENV_REFERENCE, (_ref, name: string) => encodeURIComponent(lookup(name, env, uri)));
}
