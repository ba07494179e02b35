#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu binaries (CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER):
# runs one under wine64 with the environment tools/windows-test.sh prepared (WINEPREFIX,
# WINEPATH). Its exit status is the Windows program's.
set -euo pipefail
: "${WINEPREFIX:?run through tools/windows-test.sh, which sets WINEPREFIX and WINEPATH}"
export WINEDEBUG=${WINEDEBUG:--all}
exec /usr/lib/wine/wine64 "$@"
