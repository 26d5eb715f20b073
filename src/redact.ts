/**
 * The one redactor: every printout, error message, `--json` document and log line that may hold a
 * connection string passes through here. It works on text alone (no parser), so it also masks
 * connection strings the driver would refuse, which are exactly the ones an operator mistyped.
 */
import { isEnvReference } from './env-reference.js';

/** The mask that stands for a password in every printout. */
export const REDACTED = '****';

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** A scheme and everything after it up to the next whitespace: one URI as free text can hold it. */
const URI_IN_TEXT = /([a-z][a-z0-9+.-]*:\/\/)(\S*)/gi;
/** Query options whose values are secrets (the driver's own redactor masks the same ones). */
const SECRET_OPTIONS = /((?:^|[?&])(?:proxyPassword|tlsCertificateKeyFilePassword)=)([^&]*)/gi;
const SESSION_TOKEN = /(AWS_SESSION_TOKEN(?::|%3A))([^,&]*)/gi;

/**
 * Mask the password of what follows a scheme's `://`. The user info ends at the LAST `@`, not the
 * first (the driver's reading): an operator who forgot to percent-encode an `@`, `/`, `?` or `:` in a
 * password must not see any of it printed. Validation refuses every connection string in which the
 * two readings differ, so on a valid one the mask is exact; on a malformed one it may cover more.
 * A password that is only an environment reference (`${SHARD1_PASSWORD}`) is a name, and stays.
 * User info with an `@` but no `:` is masked whole: it is no plain user name, and may be a password
 * whose `:` an older redactor already replaced (`****@ss@db1`).
 */
function redactAfterScheme(rest: string): string {
  let out = rest;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0 && !isEnvReference(userinfo.slice(colon + 1))) {
      out = `${userinfo.slice(0, colon)}:${REDACTED}${rest.slice(at)}`;
    } else if (colon < 0 && userinfo.includes('@')) {
      out = `${REDACTED}${rest.slice(at)}`;
    }
  }
  return out.replace(SECRET_OPTIONS, `$1${REDACTED}`).replace(SESSION_TOKEN, `$1${REDACTED}`);
}

/**
 * A connection string with its password replaced by `****` (`mongodb://user:pw@h` ->
 * `mongodb://user:****@h`), and the secret query options (`proxyPassword`,
 * `tlsCertificateKeyFilePassword`, `AWS_SESSION_TOKEN`) masked too. The whole string counts as the
 * URI, so even a password with raw spaces is covered. Text without a scheme comes back unchanged.
 */
export function redactUri(uri: string): string {
  const scheme = SCHEME.exec(uri);
  if (scheme === null) return uri;
  return scheme[0] + redactAfterScheme(uri.slice(scheme[0].length));
}

/**
 * Free text (an error message, a log line) with every URI in it redacted as {@link redactUri} does.
 * A URI in free text ends at the next whitespace; validation refuses raw whitespace in connection
 * strings for that reason. Idempotent, so layers may redact the same message twice.
 */
export function redactText(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URI_IN_TEXT, (_match, scheme: string, rest: string) => scheme + redactAfterScheme(rest));
}

/**
 * `JSON.stringify(value, null, space)` with every string in it redacted: the form of every `--json`
 * document and event line. Redacting each string before encoding keeps the mask exact, where
 * redacting the encoded text would have to see through JSON escapes.
 */
export function redactedJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? redactText(v) : v), space);
}
