#!/usr/bin/env bash
# Runs vkbn-bench, then the PyTorch peer where torch imports, then the report
# (merged JSON, summary, chart), and says where everything is.
#   bench/run.sh BUILD_DIR [vkbn-bench options]
# Environment: VKBN_BENCH_OUT (default bench/out), PYTHON (an interpreter
# with torch), VKBN_BENCH_NO_TORCH=1 to leave the PyTorch peer out.
set -euo pipefail
build=${1:-build}
shift || true
out=${VKBN_BENCH_OUT:-bench/out}
here=$(dirname "$0")
mkdir -p "$out"
# Mesa's drivers want a runtime directory; a minimal container has none.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
start=$SECONDS
# OpenMP peers (oneDNN, PyTorch) sleep at barriers rather than spin, like
# vkbn's own pool after ~50 us: spinning threads that lose their core to
# another job stall every barrier for a scheduler tick (docs/ARCHITECTURE.md).
if [ -z "${OMP_WAIT_POLICY:-}" ] && [ -z "${GOMP_SPINCOUNT:-}" ]; then
  export OMP_WAIT_POLICY=passive
fi

no_torch=${VKBN_BENCH_NO_TORCH:-}
no_torch_why=""
for a in "$@"; do
  case "$a" in
    --help | -h | --list | --benchmark_list_tests*) exec "$build/bench/vkbn-bench" "$@" ;;
    --no-peers) no_torch=1 ;;
  esac
done

rm -f "$out/vkbn-bench.json" "$out/torch.json"
"$build/bench/vkbn-bench" --json "$out/vkbn-bench.json" "$@"

inputs=("$out/vkbn-bench.json")
if [ -z "$no_torch" ]; then
  py=""
  for cand in "${PYTHON:-}" python3 /usr/bin/python3; do
    if [ -n "$cand" ] && command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import torch" 2>/dev/null; then
      py=$cand
      break
    fi
  done
  if [ -n "$py" ]; then
    echo
    echo "PyTorch peer ($py):"
    if "$py" "$here/peers/torch_bn.py" --cases "$out/vkbn-bench.json" --out "$out/torch.json"; then
      inputs+=("$out/torch.json")
    else
      echo "run.sh: the PyTorch peer failed; the report goes on without it" >&2
    fi
  else
    no_torch_why="not found (python3 -c 'import torch' fails), so the report has no PyTorch rows"
  fi
fi

python3 "$here/report.py" --out-dir "$out" "${inputs[@]}"
echo "raw:     ${inputs[*]}"
echo "time:    $((SECONDS - start)) s"
if [ -n "$no_torch_why" ]; then
  echo "PyTorch: $no_torch_why. To get them:"
  echo "  sudo apt-get install python3-torch    (Debian/Ubuntu; scripts/deps.sh bench tries it)"
  echo "  or: pip install torch, or PYTHON=/path/to/python-with-torch make bench"
fi
