#!/usr/bin/env bash
# Runs a command against MongoDB-wire test servers and propagates its exit code.
#
#   scripts/with-test-servers.sh CMD [ARGS...]
#
# If SHARDKIT_MONGO_URIS is already set (real MongoDB, or servers started by hand), CMD just runs.
# Otherwise FerretDB is installed if needed, SHARDKIT_TEST_SHARDS (default 4) shard servers + 1 config
# server start in a private state dir (so parallel runs never share servers), the env is exported,
# CMD runs, and the servers stop on any exit (trap). A server that does not start fails the run.
# SHARDKIT_FLAVOUR=postgresql runs FerretDB on a private PostgreSQL cluster instead of SQLite
# (scripts/test-servers.sh); CMD sees the flavour in SHARDKIT_FLAVOUR either way, and so do the
# private servers some tests start.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -gt 0 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

if [[ -n "${SHARDKIT_MONGO_URIS:-}" ]]; then
  exec "$@"
fi

export SHARDKIT_STATE="${SHARDKIT_STATE:-$(mktemp -d "${TMPDIR:-/tmp}/shardkit-test-servers.XXXXXX")}"
OWN_STATE=1
cleanup() {
  bash "$HERE/test-servers.sh" stop >/dev/null 2>&1 || true
  if [[ "$OWN_STATE" == 1 && "${SHARDKIT_KEEP_STATE:-}" != 1 ]]; then rm -rf "$SHARDKIT_STATE"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$HERE/test-servers.sh" start "${SHARDKIT_TEST_SHARDS:-4}" >&2
set -a
# shellcheck disable=SC1091
source "$SHARDKIT_STATE/env"
set +a

set +e
"$@"
rc=$?
set -e
exit "$rc"
