/**
 * The headless browser the dashboard tests drive: Debian's `chromium` (scripts/install-chromium.sh
 * installs it in CI), or the binary `SHARDKIT_CHROMIUM` names. A missing browser fails the test
 * loudly, never skips it: the dashboard's test is part of the suite.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Path of the Chromium binary the tests launch. */
export function chromiumPath(): string {
  return process.env['SHARDKIT_CHROMIUM'] ?? '/usr/bin/chromium';
}

/** Launch headless Chromium; throws with the fix when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  const path = chromiumPath();
  if (!existsSync(path)) {
    throw new Error(`no Chromium at ${path}: run \`bash scripts/install-chromium.sh\` or set SHARDKIT_CHROMIUM to a Chromium binary`);
  }
  return chromium.launch({ executablePath: path, headless: true, args: ['--no-sandbox'] });
}
