#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for N seconds each (default 60), starting from the
# committed seeds (the shared wallet vectors) plus whatever corpus earlier runs left.
#   scripts/fuzz.sh [SECONDS]
# Crashes land in fuzz/artifacts/<target>/ and make this script exit non-zero.
set -euo pipefail

per_target="${1:-60}"
cd "$(dirname "$0")/../fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

for target in parse_eip4361 parse_siws verify_signature; do
    mkdir -p "corpus/$target"
    echo "== $target: ${per_target}s"
    # cargo-fuzz passes sanitizer flags that need a nightly compiler; RUSTC_BOOTSTRAP lets the
    # stable toolchain accept them.
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$per_target" -rss_limit_mb=2048
done
