#!/usr/bin/env bash
# The Windows build of the bind link C API (issue 15), checked from the outside:
# 1. bindlink.dll for x86_64-pc-windows-gnu, and bindlink.lib made from bindlink/bindlink.def
#    with dlltool (the import library a program built against Microsoft's bindlink.lib expects);
# 2. the DLL's export table (objdump -p) holds exactly CreateBindLink and RemoveBindLink,
#    undecorated, and the import library names the same two in bindlink.dll;
# 3. bindlink/tests/c/test_bindlink.c built with mingw against bindlink.h and bindlink.lib, run
#    under Wine with the DLL beside it. No view can be mounted under Wine (WinFsp's driver does
#    not run), so it runs its client part: calls that fail before a view answers, each with its
#    HRESULT.
#    The CLI's tests under Wine run it again against a view's control pipe they serve (the
#    `pipe` mode), given its directory in BINDLINK_C_TEST_DIR.
# usage: tools/bindlink-wine.sh [build|run]   (default: both). tools/windows-test.sh builds
# first, runs the cargo tests, then runs; alone after it: bash tools/bindlink-wine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:-all}
repo=$(pwd)
target=x86_64-pc-windows-gnu
out=${BINDLINK_WINE_OUT:-$repo/target/windows-test}
winpath() { printf 'Z:%s' "${1//\//\\}"; }
export WINEPREFIX=${WINEPREFIX:-$out/wineprefix} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export WINEPATH=${WINEPATH:-$(winpath "$out/dll")}
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
if [ ! -f "$out/dll/bcryptprimitives.dll" ] || [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "bindlink-wine: run tools/windows-test.sh once first (it makes the Wine prefix and the std shim)" >&2
  exit 1
fi

work=$out/bindlink-c
fail() { echo "bindlink-wine: $*" >&2; exit 1; }

build() {
  cargo +debian-web build -Zbuild-std=std,panic_abort --target $target --target-dir "$out" --locked -p bindlink
  dll=$out/$target/debug/bindlink.dll
  rm -rf "$work" && mkdir -p "$work"
  cp "$dll" "$work/"
  x86_64-w64-mingw32-dlltool -d bindlink/bindlink.def -D bindlink.dll -l "$work/bindlink.lib"

  # The export table: "[Ordinal/Name Pointer] Table" lines name each export.
  exports=$(x86_64-w64-mingw32-objdump -p "$work/bindlink.dll" |
    awk '/\[Ordinal\/Name Pointer\] Table/ { on = 1; next } on && /^\t\[/ { print $NF } on && /^$/ { on = 0 }' | sort)
  [ "$exports" = "$(printf 'CreateBindLink\nRemoveBindLink')" ] ||
    fail "bindlink.dll exports [$exports], not exactly CreateBindLink and RemoveBindLink"
  echo "bindlink-wine: bindlink.dll exports exactly: $(echo $exports)"
  # x64 has one calling convention (the SDK's WINAPI is it); undecorated names are what an x64
  # import of Microsoft's bindlink.lib asks for. The import library says the same.
  imports=$(x86_64-w64-mingw32-nm "$work/bindlink.lib" | awk '$2 == "T" { print $3 }' | sort)
  [ "$imports" = "$(printf 'CreateBindLink\nRemoveBindLink')" ] || fail "bindlink.lib defines [$imports]"
  # (Outputs are kept before grep -q reads them: under pipefail, a writer cut off by grep's early
  # exit would fail the check.)
  dump=$(x86_64-w64-mingw32-objdump -p "$dll")
  grep -Eq '^Name[[:space:]]+[0-9a-f]+ bindlink\.dll$' <<<"$dump" || fail "the DLL does not call itself bindlink.dll"

  x86_64-w64-mingw32-gcc -municode -std=c99 -Wall -Wextra -Werror -o "$work/test_bindlink.exe" \
    bindlink/tests/c/test_bindlink.c -Ibindlink/include "$work/bindlink.lib"
  # The program imports from bindlink.dll by name, as one built against Microsoft's lib does.
  dump=$(x86_64-w64-mingw32-objdump -p "$work/test_bindlink.exe")
  grep -q 'DLL Name: bindlink.dll' <<<"$dump" || fail "test_bindlink.exe does not import bindlink.dll"

  # MSVC's link.exe cannot run here; lld-link (rust-lld -flavor link) takes its command line and
  # its import libraries: an MSVC-style link against bindlink.lib must import both functions.
  lld=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld
  [ -x "$lld" ] || fail "rust-lld not found at $lld"
  x86_64-w64-mingw32-gcc -c -O2 -ffreestanding -fno-asynchronous-unwind-tables -Ibindlink/include \
    -o "$work/msvc_link_probe.obj" bindlink/tests/c/msvc_link_probe.c
  "$lld" -flavor link /nologo /nodefaultlib /entry:probe /subsystem:console \
    "/out:$work/msvc_link_probe.exe" "$work/msvc_link_probe.obj" "$work/bindlink.lib"
  dump=$(x86_64-w64-mingw32-objdump -p "$work/msvc_link_probe.exe")
  for f in CreateBindLink RemoveBindLink; do
    grep -Eq "^[[:space:]]+[0-9a-f]+[[:space:]]+[0-9]+[[:space:]]+$f\$" <<<"$dump" ||
      fail "the lld-link build does not import $f"
  done
  echo "bindlink-wine: lld-link (MSVC style) links against bindlink.lib"
}

run() {
  (cd "$work" && /usr/lib/wine/wine64 ./test_bindlink.exe client) | tee "$work/out.txt"
  grep -q ', 0 failed' "$work/out.txt" || fail "test_bindlink.exe client failed under Wine"
  echo "bindlink-wine: the C program's client checks passed under Wine"
  (cd "$work" && /usr/lib/wine/wine64 ./msvc_link_probe.exe) ||
    fail "msvc_link_probe.exe: the calls did not return E_INVALIDARG for NULL paths"
  echo "bindlink-wine: the lld-link build called bindlink.dll under Wine"
}

case $step in
  build) build ;;
  run) run ;;
  all)
    build
    run
    ;;
  *) fail "usage: tools/bindlink-wine.sh [build|run]" ;;
esac
