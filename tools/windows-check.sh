#!/usr/bin/env bash
# Compile-check the Windows crates from Linux, against the real Windows standard library: no
# Windows machine, no linking, nothing run, only `cargo check` (or `cargo clippy`).
#
# usage: bash tools/windows-check.sh [clippy] [cargo args...]
#   e.g. bash tools/windows-check.sh -p bindfs-winfsp
#        bash tools/windows-check.sh clippy -p bindfs-winfsp --all-targets -- -D warnings
#
# Debian packages a Rust compiler (rustc-web) together with the exact source of its standard
# library (rust-web-src), so cargo can build std for x86_64-pc-windows-msvc itself
# (-Zbuild-std; RUSTC_BOOTSTRAP=1 lets the stable compiler accept it). That compiler is linked
# into rustup as the `debian-web` toolchain. The `winfsp/docsrs` feature makes winfsp-sys use
# the bindings it ships rather than run bindgen over Windows SDK headers this machine lacks.
# The first run installs the packages (as root, through apt) and builds std: about two minutes;
# later runs take seconds. Output goes to target/windows-check.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/rustlib/src/rust/library ]; then
  if ! command -v apt-get >/dev/null; then
    echo "tools/windows-check.sh: needs Debian's rustc-web and rust-web-src (apt-get not found)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends rustc-web cargo-web rust-web-src rust-web-clippy >/dev/null
fi
if ! rustup toolchain list | grep -q '^debian-web'; then
  rustup toolchain link debian-web /usr
fi

mode=check
if [ "${1:-}" = clippy ]; then
  mode=clippy
  shift
fi
export RUSTC_BOOTSTRAP=1
exec cargo +debian-web "$mode" -Zbuild-std=std,panic_abort --target x86_64-pc-windows-msvc \
  --target-dir target/windows-check --features winfsp/docsrs "$@"
