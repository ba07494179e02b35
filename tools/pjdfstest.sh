#!/usr/bin/env bash
# pjdfstest through the Linux view: the POSIX suite run on a native directory, then through a
# plain link, a merged link and the on-disk layer of one view over the same file system; fails
# when the view fails any test the native directory passes. Called by .ci/run.
# usage: tools/pjdfstest.sh            (as root; builds the view first: cargo build -p bindfs-rs)
#
# The suite is pjdfstest's Rust rewrite (crate `pjdfstest` on crates.io, the upstream project's
# own port), built from its source into target/pjdfstest on first use; nothing of it is kept in
# this repository. It has no test of what the C suite's chmod/12.t checks (a write by a
# non-owner drops set-id bits): tests/tests/rules.rs covers that (issue_13_...).
# Where it cannot be had (no registry) or not run (not root, no /dev/fuse) it says so loudly and
# exits 0, except under CI=true, where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
version=0.2.2
root=$repo/target/pjdfstest
pjd=$root/bin/pjdfstest
view=$repo/target/debug/bindfs-rs

cannot() {
  echo "pjdfstest: NOT RUN: $*" >&2
  if [ "${CI:-}" = true ]; then exit 1; fi
  exit 0
}

[ "$(id -u)" = 0 ] || cannot "it needs root (it acts as other users)"
[ -c /dev/fuse ] || cannot "no /dev/fuse"
[ -x "$view" ] || cannot "$view not built (cargo build -p bindfs-rs)"
if [ ! -x "$pjd" ] || ! "$pjd" --version 2>/dev/null | grep -q "$version"; then
  if ! cargo install --quiet --locked --root "$root" pjdfstest --version "$version"; then
    cannot "pjdfstest $version could not be built from crates.io"
  fi
fi

# Two users besides root, as the suite asks (Debian names them so).
work=$(mktemp -d /tmp/bindfs-pjdfstest.XXXXXX)
mnt=$work/view
cleanup() {
  cd /
  "$view" unmount "$mnt" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cat > "$work/pjdfstest.toml" <<'EOF'
[features]
posix_fallocate = {}
rename_ctime = {}
utime_now = {}
utimensat = {}
[settings]
naptime = 0.01
allow_remount = false
[dummy_auth]
entries = [["nobody", "nogroup"], ["daemon", "daemon"]]
EOF
mkdir -p "$work/native" "$work/plain" "$work/merged" "$mnt/Merged"
chmod -R 0755 "$work"

# The names of the tests that failed in a run, one per line.
run() {
  local dir=$1 log=$2
  (cd "$dir" && NO_COLOR=1 "$pjd" -c "$work/pjdfstest.toml" -p "$dir") > "$log" 2>&1 || true
  tail -n 1 "$log" | grep -q '^Summary:' || { cat "$log" >&2; echo "pjdfstest: the run in $dir did not finish" >&2; exit 1; }
  awk '$NF == "FAILED" || $NF == "failed" { print $1 }' "$log" | sort
}

run "$work/native" "$work/native.log" > "$work/native.failed"
echo "native:          $(tail -n 1 "$work/native.log")"
"$view" mount "$mnt" --link "$mnt/Plain=$work/plain" >/dev/null
"$view" link create "$mnt/Merged" "$work/merged" --merged >/dev/null
mkdir "$mnt/Disk"
status=0
for place in Plain Merged Disk; do
  run "$mnt/$place" "$work/$place.log" > "$work/$place.failed"
  printf '%-16s %s\n' "view, ${place,,}:" "$(tail -n 1 "$work/$place.log")"
  extra=$(comm -13 "$work/native.failed" "$work/$place.failed")
  if [ -n "$extra" ]; then
    echo "pjdfstest: through the view ($place) these fail where the native directory passes:" >&2
    echo "$extra" >&2
    grep -A6 -F -f <(echo "$extra") "$work/$place.log" >&2 || true
    status=1
  fi
done
exit $status
