#!/usr/bin/env bash
# Installs the headless browser the dashboard test drives (test/integration/serve/serve.test.ts):
# Debian's `chromium` package, driven through playwright-core with executablePath, so no browser is
# downloaded by npm. Skipped when the binary is already there.
#
# Env: SHARDKIT_CHROMIUM (default /usr/bin/chromium), the binary the test launches: when set to
# another path, this script only checks that it exists.
# Fails loudly (non-zero exit, message on stderr); the test fails, never skips, without a browser.
set -euo pipefail

CHROMIUM="${SHARDKIT_CHROMIUM:-/usr/bin/chromium}"
die() { echo "install-chromium: $*" >&2; exit 1; }

if [ -x "$CHROMIUM" ]; then
  echo "install-chromium: $CHROMIUM is there"
  exit 0
fi
[ "$CHROMIUM" = /usr/bin/chromium ] || die "SHARDKIT_CHROMIUM=$CHROMIUM does not exist or is not executable"
command -v apt-get >/dev/null || die "apt-get is missing: install Chromium by hand and set SHARDKIT_CHROMIUM to its binary"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install chromium"
  SUDO=(sudo)
fi

echo "install-chromium: apt-get install -y chromium"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q || die "apt-get update failed"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium || die "apt-get install chromium failed"
[ -x "$CHROMIUM" ] || die "chromium was installed but $CHROMIUM is missing"
"$CHROMIUM" --version 2>/dev/null || true
