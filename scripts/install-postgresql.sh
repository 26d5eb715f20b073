#!/usr/bin/env bash
# Finds or installs the PostgreSQL server behind the `postgresql` test-server flavour
# (SHARDKIT_FLAVOUR=postgresql scripts/test-servers.sh, docs/adr/0005): Debian's `postgresql` package,
# whose binaries live in /usr/lib/postgresql/<major>/bin. Only the binaries are used: the test servers run
# their own cluster per state dir, never the system's service.
#
# Env: SHARDKIT_PG_BIN, a directory holding initdb, pg_ctl, postgres and psql: when set, this script only
# checks it. Otherwise the newest /usr/lib/postgresql/*/bin is used, and `apt-get install postgresql` runs
# when there is none.
# Prints the bin directory on stdout. Fails loudly (non-zero exit, message on stderr); CI does not run it.
set -euo pipefail

die() { echo "install-postgresql: $*" >&2; exit 1; }

NEEDED=(initdb pg_ctl postgres psql)

complete() {
  local dir="$1" b
  for b in "${NEEDED[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

newest() {
  local dir
  # Version-sorted, newest last: a machine with 15 and 16 gets 16.
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    complete "$dir" && echo "$dir"
  done | tail -n 1
}

if [[ -n "${SHARDKIT_PG_BIN:-}" ]]; then
  complete "$SHARDKIT_PG_BIN" || die "SHARDKIT_PG_BIN=$SHARDKIT_PG_BIN lacks one of: ${NEEDED[*]}"
  echo "$SHARDKIT_PG_BIN"
  exit 0
fi

found="$(newest)"
if [[ -n "$found" ]]; then
  echo "$found"
  exit 0
fi

command -v apt-get >/dev/null || die "no /usr/lib/postgresql/*/bin and no apt-get: install PostgreSQL by hand and set SHARDKIT_PG_BIN to its bin directory"
SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install postgresql"
  SUDO=(sudo)
fi

echo "install-postgresql: apt-get install -y postgresql" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q >&2 || die "apt-get update failed"
"${SUDO[@]}" apt-get install -y -q --no-install-recommends postgresql >&2 || die "apt-get install postgresql failed"
found="$(newest)"
[[ -n "$found" ]] || die "postgresql was installed but no /usr/lib/postgresql/*/bin has ${NEEDED[*]}"
echo "$found"
