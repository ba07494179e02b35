#!/usr/bin/env bash
# Builds the Windows crates' tests for x86_64-pc-windows-gnu and runs them under Wine.
# usage: tools/windows-test.sh [cargo test arguments...]   e.g. -- --nocapture, or -p bindfs-core
#
# What it needs, installed on first use (Debian, as root): wine64 (Wine 8), mingw-w64 (linker
# and the C compiler for the shim below), and Debian's rustc-web with its exact std sources
# (rust-web-src), from which -Zbuild-std builds std for the Windows target (RUSTC_BOOTSTRAP=1
# allows it on that stable compiler). Builds go to target/windows-test (first run ~4 min on two
# cores, then seconds to a minute); the Wine prefix lives there too, so nothing outside the
# clone is touched but the packages.
#
# How the binaries start under Wine:
# - Rust's std imports ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks:
#   tools/windows/bcryptprimitives.c is built into a stand-in DLL.
# - The WinFsp DLL is the one shipped in the winfsp-sys crate; GNU ld imports it directly
#   (backend-winfsp/link_winfsp.rs). Its user-mode calls run under Wine; only its driver
#   (mounting a volume) does not, so no test here mounts.
# - Both directories go on WINEPATH, Wine's DLL search path; cargo runs every test binary
#   through tools/wine-run.sh. They also go on the prefix's system PATH (the registry's), for
#   the processes Wine's service manager starts: it gives a service the registry's environment,
#   not ours (cli/tests/service.rs starts the bindfs-rs binary as a service).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
target=x86_64-pc-windows-gnu
out=$repo/target/windows-test

need=""
[ -x /usr/lib/wine/wine64 ] || need="$need wine64"
command -v python3 >/dev/null || need="$need python3"
command -v x86_64-w64-mingw32-gcc >/dev/null || need="$need gcc-mingw-w64-x86-64"
[ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ] || need="$need rustc-web cargo-web rust-web-src"
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "windows-test: missing$need: install them (Debian packages) or run as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
rustup toolchain list | grep -q '^debian-web' || rustup toolchain link debian-web /usr

mkdir -p "$out/dll"
shim=$out/dll/bcryptprimitives.dll
if [ ! -f "$shim" ] || [ tools/windows/bcryptprimitives.c -nt "$shim" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -o "$shim" tools/windows/bcryptprimitives.c -ladvapi32
fi

# The WinFsp DLL shipped in the winfsp-sys crate this workspace locks.
winfsp_sys=$(cargo metadata --format-version 1 --locked --filter-platform $target |
  python3 -c 'import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "winfsp-sys":
        print(os.path.dirname(p["manifest_path"]))')
if [ ! -f "$winfsp_sys/winfsp/bin/winfsp-x64.dll" ]; then
  echo "windows-test: winfsp-x64.dll not found in the winfsp-sys crate ($winfsp_sys)" >&2
  exit 1
fi
export BINDFS_WINFSP_DLL_DIR=$winfsp_sys/winfsp/bin

winpath() { printf 'Z:%s' "${1//\//\\}"; }
# No Mono or Gecko: nothing here needs .NET or HTML, and their installers would ask.
export WINEPREFIX=$out/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export WINEPATH="$(winpath "$out/dll");$(winpath "$BINDFS_WINFSP_DLL_DIR")"
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "windows-test: making the Wine prefix (once)"
  /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true
  /usr/lib/wine/wineserver -w
fi

# The prefix's system PATH with both directories on it (written again when they move).
env_key='HKLM\System\CurrentControlSet\Control\Session Manager\Environment'
system_path="%SystemRoot%\system32;%SystemRoot%;%SystemRoot%\system32\wbem;%SystemRoot%\system32\WindowsPowershell\v1.0;$WINEPATH"
if ! /usr/lib/wine/wine64 reg query "$env_key" /v PATH 2>/dev/null | tr -d '\r' | grep -qF "$WINEPATH"; then
  /usr/lib/wine/wine64 reg add "$env_key" /v PATH /t REG_EXPAND_SZ /d "$system_path" /f >/dev/null
  /usr/lib/wine/wineserver -w
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$repo/tools/wine-run.sh
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
packages=(-p bindfs-core -p bindfs-winfsp -p bindfs-rs -p bindfs-tests -p bindlink)
for arg in "$@"; do
  if [ "$arg" = -p ] || [[ "$arg" == --package* ]]; then packages=(); fi
done
# The bind link C API (issue 15): bindlink.dll, its exports and its C test program, on a whole
# run or one of -p bindlink; the CLI's tests run that program against a pipe they serve.
bindlink=""
if [ ${#packages[@]} -gt 0 ] || [[ " $* " == *" bindlink "* ]]; then
  bindlink=1
  bash tools/bindlink-wine.sh build
  export BINDLINK_C_TEST_DIR=$(winpath "$out/bindlink-c")
fi
cargo +debian-web test -Zbuild-std=std,panic_abort --target $target --target-dir "$out" --locked \
  "${packages[@]}" "$@"
if [ -n "$bindlink" ]; then
  bash tools/bindlink-wine.sh run
fi
