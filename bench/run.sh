#!/usr/bin/env bash
# Runs vkbn-bench and says where the results are.  bench/run.sh BUILD_DIR [vkbn-bench args]
set -euo pipefail
build=${1:-build}
shift || true
out=bench/out
mkdir -p "$out"
json="$out/results.json"
"$build/bench/vkbn-bench" --benchmark_out="$json" --benchmark_out_format=json "$@"
echo
echo "results: $json"
