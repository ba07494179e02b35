#!/usr/bin/env bash
# Runs every fuzz target for SECS seconds each (default 20), from the seeds in fuzz/seeds, with
# libFuzzer through cargo fuzz (installed here on first use). A crash fails the run and leaves
# its input in fuzz/artifacts/<target>/. The stable compiler is used (RUSTC_BOOTSTRAP=1 allows
# the sanitizer flags cargo fuzz passes).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-20}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
export RUSTC_BOOTSTRAP=1
for target in path_parse config_parse control_request; do
  corpus=$(mktemp -d)
  log=$(mktemp)
  echo "== fuzz $target (${secs}s)"
  rc=0
  cargo fuzz run "$target" "$corpus" "seeds/$target" -- -max_total_time="$secs" >"$log" 2>&1 || rc=$?
  grep -E "^(Done [0-9]+ runs|#[0-9]+ +DONE)" "$log" || true
  rm -rf "$corpus"
  if [ "$rc" != 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz $target: failed (input saved in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  rm -f "$log"
done
