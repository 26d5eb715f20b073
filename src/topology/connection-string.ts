/**
 * Connection strings checked with the driver's own parser (`mongodb-connection-string-url`, which
 * `mongodb` 6.x parses every URI with) plus the driver's host and option checks, so a topology or
 * config file is refused when it is written, not when a shard is first reached. One rule goes
 * further than the driver: a URI the driver would silently misread is refused too.
 */
import { createRequire } from 'node:module';
import type { ConnectionString as ParsedConnectionString } from 'mongodb-connection-string-url' with { 'resolution-mode': 'require' };
import { REDACTED, redactText, redactUri } from '../redact.js';
import { DRIVER_URI_OPTIONS } from './uri-options.js';

/** A connection string split where the driver splits it. */
export interface ConnectionStringParts {
  /** `mongodb` or `mongodb+srv`. */
  readonly scheme: string;
  /** The text between `://` and the first `@`, when there is an `@`. */
  readonly userinfo: string | undefined;
  /** The comma-separated host list. */
  readonly hosts: string;
  /** Path and query, from the first `/` or `?` after the hosts. */
  readonly rest: string;
  /** Offset of `hosts` in the string. */
  readonly hostsAt: number;
}

// The driver's HOSTS_REGEX (mongodb-connection-string-url), with username and password as one group:
// the user info ends at the FIRST `@`.
const SPLIT = /^(?<scheme>[^/]+):\/\/(?:(?<userinfo>[^@]*)@)?(?<hosts>(?!:)[^/?@]*)(?<rest>.*)$/s;

// The package ships types for its CommonJS entry only; load that entry, the one the driver uses.
const { ConnectionString } = createRequire(import.meta.url)('mongodb-connection-string-url') as {
  ConnectionString: new (uri: string) => ParsedConnectionString;
};

/** Split `uri` as the driver does, or null when it is not `scheme://…` at all. */
export function splitConnectionString(uri: string): ConnectionStringParts | null {
  const groups = SPLIT.exec(uri)?.groups;
  if (groups === undefined) return null;
  const scheme = groups['scheme'] as string;
  const userinfo = groups['userinfo'];
  return {
    scheme,
    userinfo,
    hosts: groups['hosts'] as string,
    rest: groups['rest'] as string,
    hostsAt: scheme.length + 3 + (userinfo === undefined ? 0 : userinfo.length + 1),
  };
}

/**
 * A driver message with every trace of `uri`'s password removed: the parser quotes the whole URI
 * ("Invalid connection string …") or the user name, and the password is what the redactor would mask.
 */
function scrub(message: string, uri: string): string {
  let out = message.split(uri).join(redactUri(uri));
  const at = uri.lastIndexOf('@');
  const colon = uri.indexOf(':', uri.indexOf('://') + 3);
  if (at >= 0 && colon >= 0 && colon < at) {
    const password = uri.slice(colon + 1, at);
    if (password.length > 0) out = out.split(password).join(REDACTED);
  }
  return redactText(out);
}

/** The driver parser's objections, in words that say what to do. */
function parserProblem(message: string): string {
  if (message.startsWith('Password contains unescaped characters')) {
    return "the password contains a raw ':', '/', '?', '#', '[', ']' or '@': percent-encode it (e.g. '@' as %40, '/' as %2F)";
  }
  if (message.startsWith('Username contains unescaped characters')) {
    return "the user name contains a raw ':', '/', '?', '#', '[', ']' or '@': percent-encode it";
  }
  if (message === 'URI malformed') return "the user info has a '%' that does not start a percent-escape: write '%' as %25";
  return message;
}

/**
 * The driver's host check (`HostAddress`): a host is what the WHATWG URL parser accepts after a
 * scheme, port 0 excluded; a name ending in `.sock` is a socket path. An empty entry, which the
 * driver would try as host "", is refused too.
 */
function hostProblem(host: string, srv: boolean): string | null {
  if (host === '') return 'the host list has an empty entry';
  if (srv || host.endsWith('.sock')) return null;
  let port: string;
  try {
    port = new URL(`iLoveJS://${host}`).port;
  } catch {
    return `host ${JSON.stringify(host)} is not a name, IPv4 address or [IPv6] address with an optional port in 1..65535`;
  }
  return port === '0' ? `host ${JSON.stringify(host)}: port 0 is not a port` : null;
}

function optionProblem(parsed: ParsedConnectionString): string | null {
  const seen = new Set<string>();
  for (const name of parsed.searchParams.keys()) {
    const key = name.toLowerCase();
    const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
    if (!DRIVER_URI_OPTIONS.has(key)) {
      return `unknown option ${shown} (the driver would refuse it; names are listed in the driver's connection string docs)`;
    }
    // The driver allows only tag sets to repeat, and compares names case-insensitively.
    if (seen.has(key) && key !== 'readpreferencetags') return `option ${shown} appears more than once`;
    seen.add(key);
  }
  return null;
}

/**
 * Why the driver would refuse `uri`, or read it otherwise than it looks, or null when it is a
 * connection string the driver accepts as written. Checked: the scheme; no raw whitespace or control
 * characters (they must be percent-encoded, and free text could not be redacted around them); a
 * user info the driver's parser accepts; no `@` after the user info (the driver ends the user info at
 * the first `@`, so `user:p@ss@host` would connect to host `ss`); every host with a port in
 * 1..65535; every option name one the driver knows, and none twice. Option values are left to the
 * driver (it checks them when the client is created). The reason never quotes the password.
 */
export function connectionStringProblem(uri: string): string | null {
  if (!uri.startsWith('mongodb://') && !uri.startsWith('mongodb+srv://')) return 'it must start with mongodb:// or mongodb+srv://';
  if (/[\s\p{Cc}]/u.test(uri)) return 'it contains whitespace or a control character: percent-encode it (a space is %20)';
  const parts = splitConnectionString(uri);
  if (parts === null || parts.hosts === '') return 'it names no host';
  if (uri.indexOf('@', parts.hostsAt) >= 0) {
    return "it has an '@' after the user info: the driver would take what follows the first '@' as the host; percent-encode '@' as %40";
  }
  let parsed: ParsedConnectionString;
  try {
    parsed = new ConnectionString(uri);
  } catch (error) {
    return scrub(parserProblem(error instanceof Error ? error.message : String(error)), uri);
  }
  const srv = parsed.isSRV;
  for (const host of parsed.hosts) {
    const problem = hostProblem(host, srv);
    // Past the user info check, a host holds no part of the password.
    if (problem !== null) return problem;
  }
  return optionProblem(parsed);
}
