#!/usr/bin/env bash
# The shared side-by-side benchmark (../shared/bench/fsbench.py) run on the Linux view, with the
# issue's targets and order:
#
#   bench/view.sh [--fs ext4|tmpfs|here] [fsbench options: --reps N, --quick, --only a,b, --json F]
#
# --fs is fsbench's own (it mounts and undoes the file system itself):
#   ext4   the default: a journaled ext4 on a loop image fsbench keeps (/var/tmp/fsbench.ext4),
#          what a user's disk is. Not the host's /tmp: an ext4 without a journal will not reuse
#          an inode deleted less than a minute ago and each create scans past all of them, so
#          create_unlink there measures what the targets before deleted (see the README).
#   tmpfs  a tmpfs: no disk, so what each FUSE layer costs shows in full.
#   here   whatever holds /tmp/fsbench (set up by the caller).
#
# Needs root (mounts, drop_caches), the fsbench peers (apt: bindfs mergerfs, installed here when
# missing) and a release build (built here, into $CARGO_TARGET_DIR if set). One run at a time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
die() {
  echo "bench/view.sh: $*" >&2
  exit 2
}

fs=ext4
if [ "${1:-}" = --fs ]; then
  [ $# -ge 2 ] || die "--fs needs a file system: ext4, tmpfs or here"
  fs=$2
  shift 2
fi
case $fs in
  ext4 | tmpfs | here) ;;
  *) die "unknown file system '$fs' (expected ext4, tmpfs or here)" ;;
esac
[ "$(id -u)" = 0 ] || die "must run as root (it mounts and drops caches)"
fsbench=$repo/../shared/bench/fsbench.py
[ -f "$fsbench" ] || die "$fsbench not found (the shared material)"

# fsbench rebuilds /tmp/fsbench as it likes: two runs at once would destroy each other's tree.
# The lock is held by flock itself, so that no daemon the run starts inherits it.
if [ -z "${BINDFS_BENCH_LOCKED:-}" ]; then
  rc=0
  BINDFS_BENCH_LOCKED=1 flock -n -o -E 75 /tmp/fsbench.lock "$0" --fs "$fs" "$@" || rc=$?
  [ "$rc" != 75 ] || die "another benchmark run holds /tmp/fsbench.lock"
  exit "$rc"
fi

missing=""
command -v bindfs >/dev/null || missing="$missing bindfs"
command -v mergerfs >/dev/null || missing="$missing mergerfs"
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends $missing >/dev/null || die "cannot install$missing"
fi
cargo build --release -q -p bindfs-rs --manifest-path "$repo/Cargo.toml"
target=${CARGO_TARGET_DIR:-$repo/target}
bin=$(realpath "$target/release/bindfs-rs")

# fsbench undoes the file system it mounts; views it left behind (it was killed) are undone
# here, or the next run finds its mount points busy.
cleanup() {
  for view in /tmp/fsbench/mnt-*; do
    if mountpoint -q "$view"; then fusermount3 -u "$view" 2>/dev/null || umount -l "$view"; fi
  done
  if [ "$fs" != here ] && mountpoint -q /tmp/fsbench/backing; then umount /tmp/fsbench/backing || true; fi
}
trap cleanup EXIT

python3 "$fsbench" --fs "$fs" --targets native,kbind,bindfs,mergerfs,project \
  --project-mount "$bin mount {mnt} --link {mnt}={backing}" "$@"
