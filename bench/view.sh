#!/usr/bin/env bash
# The shared side-by-side benchmark (../shared/bench/fsbench.py) run on the Linux view, with the
# issue's targets and order, on a file system chosen for what it should show:
#
#   bench/view.sh [--fs here|ext4|tmpfs] [fsbench options: --reps N, --quick, --only a,b, --json F]
#
#   here   the tree where fsbench puts it (/tmp/fsbench), on whatever holds /tmp (the default).
#   ext4   a fresh ext4 with a journal, on a loop device, mounted at /tmp/fsbench for the run.
#          Use it where /tmp's ext4 has no journal: there ext4 will not reuse an inode deleted
#          less than a minute ago (six minutes while its inode table block is dirty) and each
#          create scans past all of them, so create_unlink measures how many files the targets
#          before deleted, not the layer (see the README, Performance).
#   tmpfs  a tmpfs at /tmp/fsbench: no disk, so what each FUSE layer costs shows in full.
#
# Both are 8 GiB (sparse, and a tmpfs limit): mergerfs refuses to create anything on a branch
# with less than 4 GiB free (its minfreespace).
#
# Needs root (mounts, drop_caches), the fsbench peers (apt: bindfs mergerfs, installed here when
# missing) and a release build (built here, into $CARGO_TARGET_DIR if set). Mounts it makes are
# undone on exit; one run at a time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
die() {
  echo "bench/view.sh: $*" >&2
  exit 2
}

fs=here
if [ "${1:-}" = --fs ]; then
  [ $# -ge 2 ] || die "--fs needs a file system: here, ext4 or tmpfs"
  fs=$2
  shift 2
fi
case $fs in
  here | ext4 | tmpfs) ;;
  *) die "unknown file system '$fs' (expected here, ext4 or tmpfs)" ;;
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

root=/tmp/fsbench
image=""
mounted=""
cleanup() {
  if [ -n "$mounted" ]; then
    # Views fsbench left behind (it was killed) go first, or the file system stays busy.
    for view in "$root"/mnt-*; do
      if mountpoint -q "$view"; then fusermount3 -u "$view" 2>/dev/null || umount -l "$view"; fi
    done
    umount "$root" || umount -l "$root"
  fi
  if [ -n "$image" ]; then rm -f "$image"; fi
}
trap cleanup EXIT
mkdir -p $root
if [ "$fs" != here ] && mountpoint -q $root; then
  die "$root is already a mount point; unmount it first"
fi
case $fs in
  ext4)
    image=$(mktemp /var/tmp/bindfs-bench-XXXXXX.ext4)
    truncate -s 8G "$image"
    mkfs.ext4 -q -F -O has_journal "$image"
    mount -o loop "$image" $root
    mounted=1
    ;;
  tmpfs)
    mount -t tmpfs -o size=8G tmpfs $root
    mounted=1
    ;;
esac

python3 "$fsbench" --targets native,kbind,bindfs,mergerfs,project \
  --project-mount "$bin mount {mnt} --link {mnt}={backing}" "$@"
