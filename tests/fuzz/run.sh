#!/usr/bin/env bash
# Runs a libFuzzer target.
#   run.sh replay TARGET CORPUS RUNS   the committed corpus, then RUNS
#       mutations from seed 1 (deterministic: one process, no time limit);
#       new inputs go to a scratch directory, never into the source tree.
#       Fails on any crash, leak, timeout or sanitizer report, leaving the
#       input that caused it (crash-*, leak-*, timeout-*) in the build
#       directory; commit it to CORPUS as a regression.
#   run.sh explore TARGET CORPUS WORK [SECONDS]   open-ended (0: until
#       stopped): grows WORK/corpus from CORPUS; add the finds worth keeping
#       to CORPUS with `TARGET -merge=1 CORPUS WORK/corpus`.
set -euo pipefail
mode=$1 target=$2 corpus=$3
name=$(basename "$target")
case $mode in
  replay)
    runs=$4
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
    trap 'rm -rf "$scratch"' EXIT
    # -rss_limit_mb and -timeout: a runaway allocation or loop is a finding.
    "$target" -seed=1 -runs="$runs" -timeout=30 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
      -artifact_prefix="$PWD/$name-" "$scratch" "$corpus" 2>&1 | tail -n 40
    exit "${PIPESTATUS[0]}"
    ;;
  explore)
    work=$4 seconds=${5:-0}
    mkdir -p "$work/corpus"
    exec "$target" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=4096 \
      -artifact_prefix="$work/" "$work/corpus" "$corpus"
    ;;
  *) echo "usage: run.sh replay|explore ..." >&2; exit 2 ;;
esac
