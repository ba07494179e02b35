#!/usr/bin/env bash
# The shared side-by-side benchmark (../shared/bench/fsbench.py) run on the Linux view, with the
# issue's targets and order, on a file system chosen for what it should show:
#
#   bench/view.sh [--fs here|ext4|tmpfs] [fsbench options: --reps N, --quick, --only a,b, --json F]
#
#   here   the tree where fsbench puts it (/tmp/fsbench), on whatever holds /tmp (the default).
#   ext4   a fresh ext4 with a journal, on a loop device, mounted at /tmp/fsbench for the run.
#          Use it where /tmp's ext4 has no journal: there ext4 will not reuse an inode deleted
#          less than a minute ago (five when its inode table block is dirty) and each create
#          scans past all of them, so create_unlink measures how many files the targets before
#          deleted, not the layer (see the README, Performance).
#   tmpfs  a tmpfs at /tmp/fsbench: no disk, so what each FUSE layer costs shows in full.
#
# Both are 8 GiB (sparse, and a tmpfs limit): mergerfs refuses to create anything on a branch
# with less than 4 GiB free (its minfreespace).
#
# Needs root (mounts, drop_caches), the fsbench peers (apt: bindfs mergerfs, installed here when
# missing) and a release build (built here). Mounts it makes are undone on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

fs=here
if [ "${1:-}" = --fs ]; then
  if [ $# -lt 2 ]; then
    echo "bench/view.sh: --fs needs a file system: here, ext4 or tmpfs" >&2
    exit 2
  fi
  fs=$2
  shift 2
fi
case $fs in here | ext4 | tmpfs) ;; *)
  echo "bench/view.sh: unknown file system '$fs' (expected here, ext4 or tmpfs)" >&2
  exit 2
  ;;
esac
[ "$(id -u)" = 0 ] || { echo "bench/view.sh: must run as root (it mounts and drops caches)" >&2; exit 2; }
fsbench=../shared/bench/fsbench.py
[ -f $fsbench ] || { echo "bench/view.sh: $fsbench not found (the shared material)" >&2; exit 2; }

missing=""
command -v bindfs >/dev/null || missing="$missing bindfs"
command -v mergerfs >/dev/null || missing="$missing mergerfs"
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
cargo build --release -q -p bindfs-rs

root=/tmp/fsbench
image=""
mounted=""
cleanup() {
  if [ -n "$mounted" ]; then umount $root || umount -l $root; fi
  if [ -n "$image" ]; then rm -f "$image"; fi
}
trap cleanup EXIT
mkdir -p $root
if [ "$fs" != here ] && mountpoint -q $root; then
  echo "bench/view.sh: $root is already a mount point; unmount it first" >&2
  exit 2
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

python3 $fsbench --targets native,kbind,bindfs,mergerfs,project \
  --project-mount "$PWD/target/release/bindfs-rs mount {mnt} --link {mnt}={backing}" "$@"
