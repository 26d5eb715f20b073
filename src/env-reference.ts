/**
 * The syntax of an environment reference, `${NAME}`, that a connection string in a topology or
 * config file may carry instead of a secret (docs/configuration.md, "Credentials"). The redactor
 * leaves a lone reference visible, since it is the secret's name, not the secret.
 */

/** What a variable name may look like: a POSIX shell name. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every `${…}` in a text (the name is checked separately, so a typo is reported, not ignored). */
export const ENV_REFERENCE = /\$\{([^}]*)\}/g;

/** True when `text` is exactly one well-formed reference, e.g. `${SHARD1_PASSWORD}`. */
export function isEnvReference(text: string): boolean {
  return text.startsWith('${') && text.endsWith('}') && ENV_NAME.test(text.slice(2, -1));
}
