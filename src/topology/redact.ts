/** The mask that stands for a password in every printout. */
export const REDACTED = '****';

/**
 * A connection string with its password replaced by `****` (`mongodb://user:pw@h` ->
 * `mongodb://user:****@h`). A URI without a password comes back unchanged.
 *
 * The user-info part ends at the last `@` before the query, not the first: an operator who forgot to
 * percent-encode a `@` or `/` in a password must still not see any of it printed. When the only `@`
 * lies after a `?` and nothing before that `?` looks like a path, the `?` is taken as part of the
 * password, again so that nothing leaks; the cost is an over-masked URI in a malformed case.
 */
export function redactUri(uri: string): string {
  const schemeEnd = uri.indexOf('://');
  if (schemeEnd < 0) return uri;
  const head = uri.slice(0, schemeEnd + 3);
  const rest = uri.slice(schemeEnd + 3);
  const query = rest.indexOf('?');
  const beforeQuery = query < 0 ? rest : rest.slice(0, query);
  let at = beforeQuery.lastIndexOf('@');
  if (at < 0 && query >= 0 && !beforeQuery.includes('/')) at = rest.lastIndexOf('@');
  if (at < 0) return uri;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return uri;
  return `${head}${userinfo.slice(0, colon)}:${REDACTED}${rest.slice(at)}`;
}

/**
 * Free text (an error message, a log line) with the password of every URI in it masked. Parser
 * messages quote the input around a syntax error, and driver messages quote connection strings, so
 * everything the CLI prints passes through here.
 */
export function redactText(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s"'`@/:]*):([^\s"'`]*)@/gi, (_m, scheme: string, user: string) => {
    return `${scheme}${user}:${REDACTED}@`;
  });
}
