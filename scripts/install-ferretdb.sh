#!/usr/bin/env bash
# Installs the FerretDB binary used by the test servers into a cache folder outside the repo.
#
# Why not plain `go install ...@v1.24.2`: FerretDB embeds build/version/version.txt, which the module
# zip does not ship, so a `go install` binary panics at start-up ("Invalid build/version/version.txt").
# We copy the module source, write the version file, and build from the copy.
#
# We also apply scripts/ferretdb/atomic-writes.patch: FerretDB 1.x runs update, delete and findAndModify
# as "query, then write by _id" with nothing in between held (upstream issue #3040), so a conditional
# write can act on a document another write changed after the query (measured: a conditional delete and a
# racing fence of the same document both succeed in ~70% of rounds). MongoDB applies each single-document
# write atomically, and shardkit's migration protocol relies on it (docs/adr/0005). The patch serializes
# those three commands per server process with one mutex, which restores that atomicity; inserts and reads
# are unchanged.
#
# And scripts/ferretdb/id-index.patch: FerretDB 1.x on SQLite uses the _id index only for a filter that
# is exactly {_id: <string or ObjectId>}; any other condition beside it, or `_id: {$in: [...]}`, scans and
# decodes the whole collection. MongoDB answers both from its _id index, and shardkit's conditional writes
# ({_id, _v, not fenced}) and its by-_id batches depend on that. The patch narrows the SQL query by the
# filter's top-level _id ($eq or $in of strings/ObjectIds) and leaves the rest of the filter to FerretDB's
# own matching, which every command already applies to what the query returns (docs/adr/0005).
#
# The stamp file next to the binary names version + patches, so a change rebuilds.
#
# Env: SHARDKIT_CACHE (default $HOME/.cache/shardkit), FERRETDB_VERSION (default v1.24.2).
# Prints the binary path on stdout. Fails loudly (non-zero exit, message on stderr).
set -euo pipefail

VERSION="${FERRETDB_VERSION:-v1.24.2}"
CACHE="${SHARDKIT_CACHE:-$HOME/.cache/shardkit}"
BIN_DIR="$CACHE/bin"
BIN="$BIN_DIR/ferretdb"
STAMP="$BIN_DIR/ferretdb.build"
PATCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ferretdb"
PATCHES=("$PATCH_DIR/atomic-writes.patch" "$PATCH_DIR/id-index.patch")

die() { echo "install-ferretdb: $*" >&2; exit 1; }

for p in "${PATCHES[@]}"; do [[ -f "$p" ]] || die "patch missing: $p"; done
BUILD_ID="$VERSION+$(cat "${PATCHES[@]}" | sha256sum | cut -c1-16)"

installed_version() {
  # `ferretdb --version` prints e.g. "version: v1.24.2"; a broken build panics, which counts as absent.
  "$BIN" --version 2>/dev/null | awk '/^version:/ {print $2; exit}' || true
}

if [[ -x "$BIN" ]] && [[ "$(installed_version)" == "$VERSION" ]] && [[ "$(cat "$STAMP" 2>/dev/null)" == "$BUILD_ID" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "Go toolchain not found (needed to build FerretDB $VERSION); install Go >= 1.24"

echo "install-ferretdb: building FerretDB $VERSION into $BIN (takes a minute or two)" >&2
MOD="github.com/FerretDB/FerretDB@$VERSION"
SRC_DIR="$(GOFLAGS=-mod=mod go mod download -json "$MOD" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);if(j.Error){console.error(j.Error);process.exit(1)}process.stdout.write(j.Dir)})')" \
  || die "cannot download module $MOD"
[[ -d "$SRC_DIR" ]] || die "module source dir missing: $SRC_DIR"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ferretdb-build.XXXXXX")"
trap 'chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
cp -R "$SRC_DIR/." "$WORK/"
chmod -R u+w "$WORK"
echo "$VERSION" > "$WORK/build/version/version.txt"
# git (not patch(1), which a fresh machine may lack); the empty repo makes paths relative to $WORK.
git -C "$WORK" init -q || die "cannot create a git repo in $WORK"
for p in "${PATCHES[@]}"; do
  git -C "$WORK" apply "$p" || die "cannot apply $p to FerretDB $VERSION"
done

mkdir -p "$BIN_DIR"
(cd "$WORK" && GOFLAGS=-buildvcs=false GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" go build -trimpath -o "$BIN.tmp" ./cmd/ferretdb) \
  || die "go build of FerretDB $VERSION failed"
mv -f "$BIN.tmp" "$BIN"
echo "$BUILD_ID" > "$STAMP"

got="$(installed_version)"
[[ "$got" == "$VERSION" ]] || die "built binary reports version '${got:-<none>}', expected $VERSION"
echo "$BIN"
