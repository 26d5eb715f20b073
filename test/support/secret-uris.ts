/**
 * Generated connection strings with passwords, for the property tests that prove no printout ever
 * holds a password: passwords mix the characters that break naive redactors (`@ / : % ?`, `#`, `[`,
 * quotes) with non-ASCII, and each is written both percent-encoded (a valid URI) and raw (what an
 * operator who forgot to escape it writes).
 */
import fc from 'fast-check';

const PASSWORD_CHARS = [
  ...'abcXYZ0189',
  '@', '/', ':', '%', '?', '#', '[', ']', '&', '=', '+', '!', '"', "'", '$', '.', '-', '_', '~',
  'ä', 'é', 'ß', 'Ω', '密', '码', '🔑',
];

/** A password; the `pw` prefix keeps a chance match with other output text from posing as a leak. */
export const password: fc.Arbitrary<string> = fc
  .string({ unit: fc.constantFrom(...PASSWORD_CHARS), minLength: 1, maxLength: 16 })
  .map((s) => `pw${s}`);

/** How the password is written into the URI. */
export type Written = 'escaped' | 'raw';

/** A connection string `app:<password>@<hosts>/app[?query]`, escaped or raw. */
export interface SecretUri {
  readonly uri: string;
  readonly password: string;
  readonly written: Written;
  /** The URI as it must print: the same with the password masked. */
  readonly redacted: string;
}

const hosts = fc.constantFrom('db1.example.net:27017', '10.0.0.1:27017,10.0.0.2:27017', '[::1]:27018', 'h');
const tail = fc.constantFrom('/app', '/app?replicaSet=rs0', '/?appName=shardkit&retryWrites=true', '');

/** A generated {@link SecretUri}. */
export const secretUri: fc.Arbitrary<SecretUri> = fc
  .record({ password, written: fc.constantFrom<Written>('escaped', 'raw'), hosts, tail })
  .map(({ password: pw, written, hosts: h, tail: t }) => {
    const shown = written === 'escaped' ? encodeURIComponent(pw) : pw;
    return { uri: `mongodb://app:${shown}@${h}${t}`, password: pw, written, redacted: `mongodb://app:****@${h}${t}` };
  });

/** Every form in which a password could surface in text: as written, decoded, encoded, JSON-escaped. */
export function passwordForms(pw: string): string[] {
  const forms = new Set([pw, encodeURIComponent(pw), JSON.stringify(pw).slice(1, -1)]);
  try {
    forms.add(decodeURIComponent(pw));
  } catch {
    // A raw '%' that starts no escape: the password has no decoded form.
  }
  return [...forms];
}

/** The first form of `pw` that `text` contains, or undefined: the assertion of every leak test. */
export function leakOf(text: string, pw: string): string | undefined {
  return passwordForms(pw).find((form) => text.includes(form));
}
