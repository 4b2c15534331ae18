#!/usr/bin/env bash
# The GPU kit: vkbn's programs and the shared libraries a bare NVIDIA machine
# lacks (no Vulkan loader, no SDK, no Google Benchmark: /work/shared/GPU.md), in
# one folder, and one call that runs everything there within 8 minutes.
#
#   bench/gpu/kit.sh pack [KIT]   here, on Debian 12 (or newer): builds vkbn in Release (build-gpu/),
#                                 copies the vkbn tool, vkbn-bench, test_forward, test_backward and
#                                 test_link, the PyTorch peer and the report, and the libraries ldd
#                                 finds outside glibc/libstdc++ plus the Vulkan loader (dlopened, so
#                                 ldd cannot see it) into KIT (default .gpu/kit, git-ignored), with
#                                 RUNPATH $ORIGIN/../lib; refuses a kit of 64 MiB or more
#   bench/gpu/kit.sh run OUT      there: runs each step under its own timeout and leaves in OUT:
#                                 run.log, STEPS.txt, summary.md, results.json, logs.tar.gz
#
# On the device tool (the checkout travels, the ignored kit is carried; one command):
#   run(command='bench/gpu/kit.sh run "$OUT"', carry=['.gpu/kit'], timeout_s=540)
# By hand, on a machine with an NVIDIA driver: copy .gpu/vkbn-gpu-kit.tar.gz there, then
#   tar xzf vkbn-gpu-kit.tar.gz && kit/kit.sh run out
#
# Environment for run (all optional):
#   VKBN_KIT_ICD          the Vulkan driver's ICD json (default: NVIDIA's at
#                         /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json when it exists)
#   VKBN_KIT_DEVICE       the vkbn device (index or name part; default: vkbn's default device when
#                         it is a Vulkan device, else the first Vulkan device listed)
#   VKBN_KIT_CHECK_ARGS   extra `vkbn check` options (e.g. --quick)
#   VKBN_KIT_BENCH_ARGS   extra vkbn-bench options for every bench step (e.g. --op train,infer)
#   VKBN_KIT_SUITES       the bench steps, space-separated suite lists (default: the quick suite
#                         in three runs: "resnet50_b32 resnet50_b1 sweep,small_batch")
#   VKBN_KIT_COMPILE_CASES  regex of the case keys torch.compile times (default ^resnet50_b32/)
#   VKBN_KIT_PYTHON       an interpreter with torch (default: python3)
#   VKBN_KIT_TOTAL        seconds for all steps together (default 460): a step never gets more
#                         than what is left
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
  exit 2
}

# ---------------------------------------------------------------- pack
pack() {
  set -e
  local repo kit build jobs
  repo=$(cd "$here/../.." && pwd)
  kit=${1:-$repo/.gpu/kit}
  build=${VKBN_KIT_BUILD:-$repo/build-gpu}
  jobs=$(nproc 2>/dev/null || echo 2)
  "$repo/scripts/deps.sh" bench
  if ! command -v patchelf >/dev/null 2>&1; then
    echo "pack: installing patchelf (RUNPATH of the kit's programs)"
    apt-get install -y -q --no-install-recommends patchelf >/dev/null ||
      { echo "pack: needs patchelf: apt-get install patchelf" >&2; exit 1; }
  fi
  # Release; without oneDNN (a CPU peer, of no use on the GPU machine).
  cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVKBN_BUILD_BENCH=ON -DVKBN_BUILD_TESTS=ON \
    -DVKBN_BUILD_TOOLS=ON -DVKBN_BENCH_ONEDNN=OFF >/dev/null
  cmake --build "$build" -j "$jobs" --target vkbn_cli vkbn-bench test_forward test_backward test_link
  rm -rf "$kit"
  mkdir -p "$kit/bin" "$kit/lib/fallback" "$kit/bench/peers"
  cp "$build/tools/vkbn/vkbn" "$build/bench/vkbn-bench" "$build/tests/test_forward" \
     "$build/tests/test_backward" "$build/tests/test_link" "$kit/bin/"
  strip "$kit"/bin/*
  for b in "$kit"/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$b"; done

  # Libraries: what ldd resolves outside the base system every Linux with a
  # C++ runtime has, plus the Vulkan loader, which vkbn opens with dlopen
  # (volk) and only test_link links.
  local base='^(linux-vdso|libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so'
  local libs=() so path
  while read -r so path; do
    [[ "$so" =~ $base ]] || libs+=("$path")
  done < <(for b in "$kit"/bin/*; do ldd "$b"; done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u)
  path=$(ldconfig -p | awk '$1 == "libvulkan.so.1" && /x86-64/ && !p {p = $NF} END {print p}')
  if [ -z "$path" ]; then
    # Not installed here: Debian's package, as /work/shared/GPU.md fetches it.
    local tmp; tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download libvulkan1 >/dev/null && dpkg -x libvulkan1_*.deb x)
    path=$(find "$tmp/x" -name 'libvulkan.so.1' | head -1)
  fi
  [[ " ${libs[*]} " == *" $path "* ]] || libs+=("$path")
  for path in "${libs[@]}"; do
    # The soname the programs ask for, with the real file's contents.
    cp -L "$path" "$kit/lib/$(basename "$path")"
  done
  for path in "$kit"/lib/*.so*; do
    if ldd "$path" | grep -q 'not found'; then echo "pack: $path needs what is not here:" >&2; ldd "$path" >&2; fi
  done
  # Used by run only when the GPU machine's libstdc++ is older than the build's.
  cp -L "$(g++ -print-file-name=libstdc++.so.6)" "$(gcc -print-file-name=libgcc_s.so.1)" "$kit/lib/fallback/"
  strip --strip-unneeded "$kit"/lib/*.so* "$kit"/lib/fallback/*.so* 2>/dev/null || true

  cp "$here/kit.sh" "$kit/kit.sh"
  cp "$repo/bench/peers/torch_bn.py" "$kit/bench/peers/"
  cp "$repo/bench/report.py" "$repo/bench/gpu/compare_prediction.py" "$kit/bench/"
  {
    echo "vkbn $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
    echo "packed $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(. /etc/os-release && echo "$PRETTY_NAME"), $(ldd --version | head -1)"
    echo "libraries: ${libs[*]}"
  } > "$kit/VERSION"
  local bytes; bytes=$(du -sb "$kit" | cut -f1)
  tar czf "$(dirname "$kit")/vkbn-gpu-kit.tar.gz" -C "$(dirname "$kit")" "$(basename "$kit")"
  echo
  ls -l "$kit/bin" "$kit/lib"
  echo "kit: $kit, $((bytes / 1024)) KiB ($(du -h "$(dirname "$kit")/vkbn-gpu-kit.tar.gz" | cut -f1) packed)"
  if [ "$bytes" -ge $((64 << 20)) ]; then
    echo "pack: the kit is 64 MiB or more: it would not travel to the GPU machine" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------- run
kit=""
work=""
steps=""
t0=$SECONDS
total=${VKBN_KIT_TOTAL:-460}

find_kit() {
  if [ -n "${VKBN_KIT:-}" ]; then kit=$VKBN_KIT
  elif [ -x "$here/bin/vkbn" ]; then kit=$here                # kit/kit.sh, inside an unpacked kit
  elif [ -x "$here/../../.gpu/kit/bin/vkbn" ]; then kit=$(cd "$here/../../.gpu/kit" && pwd)
  elif [ -f "$here/../../.gpu/vkbn-gpu-kit.tar.gz" ]; then
    kit=$(mktemp -d)/kit
    echo "unpacking $here/../../.gpu/vkbn-gpu-kit.tar.gz into $(dirname "$kit")"
    tar xzf "$here/../../.gpu/vkbn-gpu-kit.tar.gz" -C "$(dirname "$kit")"
  else
    echo "run: no kit (bench/gpu/kit.sh pack first, or set VKBN_KIT)" >&2
    exit 1
  fi
}

# step NAME SECONDS CMD...: CMD under its own timeout (TERM, then KILL 5 s
# later), its output in NAME.log, one line in STEPS.txt.
step() {
  local name=$1 budget=$2; shift 2
  local left=$((total - (SECONDS - t0)))
  if [ "$left" -lt 5 ]; then
    printf '%-18s %-8s %5s s  %s\n' "$name" skipped 0 "no time left of the ${total} s" >> "$steps"
    echo "== $name: skipped, no time left of the ${total} s"
    return
  fi
  [ "$budget" -gt "$left" ] && budget=$left
  echo
  echo "== $name ($(date -u +%H:%M:%S), $((SECONDS - t0)) s in): timeout -k 5 $budget $*"
  local s=$SECONDS rc status
  timeout -k 5 "$budget" "$@" > "$work/$name.log" 2>&1
  rc=$?
  case $rc in
    0) status=ok ;;
    124 | 137) status=TIMEOUT ;;
    77) status=skipped ;;
    *) status="FAILED" ;;
  esac
  printf '%-18s %-8s %5s s  rc %s, limit %s s\n' "$name" "$status" $((SECONDS - s)) "$rc" "$budget" >> "$steps"
  [ "${VKBN_KIT_TAIL:-12}" -gt 0 ] && tail -n "${VKBN_KIT_TAIL:-12}" "$work/$name.log" | sed 's/^/   | /'
  echo "== $name: $status (rc $rc) in $((SECONDS - s)) s"
}

# A step that is not run, with the reason.
skip() {
  printf '%-18s %-8s %5s s  %s\n' "$1" skipped 0 "$2" >> "$steps"
  echo
  echo "== $1: skipped: $2"
}

run() {
  [ $# -ge 1 ] || usage
  mkdir -p "$1" || exit 1
  local out; out=$(cd "$1" && pwd)
  work=$(mktemp -d "${TMPDIR:-/tmp}/vkbn-kit.XXXXXX")
  steps=$work/STEPS.txt
  exec 3>&1 4>&2 > >(tee "$work/run.log") 2>&1
  local tee_pid=$!
  echo "vkbn GPU kit: run into $out ($(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(uname -r))"
  find_kit
  echo "kit: $kit"
  cat "$kit/VERSION"
  printf '%-18s %-8s %7s  %s\n' step status time notes > "$steps"

  # The driver: NVIDIA's ICD where it is installed, else what VKBN_KIT_ICD
  # names, else the loader's own search.
  local icd=${VKBN_KIT_ICD:-}
  [ -z "$icd" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -n "$icd" ]; then
    export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
    echo "Vulkan driver: $icd"
    cat "$icd" 2>/dev/null | tr -s ' \n' ' '; echo
  else
    echo "Vulkan driver: the loader's own search (no VKBN_KIT_ICD, no NVIDIA ICD at /usr/local/nvidia)"
  fi
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work/xdg}
  mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
  export LD_LIBRARY_PATH=$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export VKBN_TEST_NO_VALIDATION=1  # no validation layers there (tests/test_util.h)
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH VKBN_TEST_NO_VALIDATION=1 XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"
  if ldd "$kit/bin/vkbn-bench" | grep -q 'not found'; then
    export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$kit/lib/fallback
    echo "this machine's libstdc++ is older than the build's: the kit's own is used ($kit/lib/fallback)"
  fi

  echo
  echo "== ldd: every program (RUNPATH \$ORIGIN/../lib) and the Vulkan loader"
  local b
  for b in "$kit"/bin/*; do
    echo "$b:"; ldd "$b" | sed 's/^\s*/    /'
    command -v readelf >/dev/null &&
      echo "    RUNPATH: $(readelf -d "$b" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')"
  done
  echo "$kit/lib/libvulkan.so.1:"; ldd "$kit/lib/libvulkan.so.1" | sed 's/^\s*/    /'

  # vkbn opens the loader with dlopen (volk): where the dynamic linker found it.
  VKBN_KIT_TAIL=0 step loader 10 env LD_DEBUG=libs "$kit/bin/vkbn" devices
  grep -E 'find library=libvulkan|trying file=.*libvulkan|calling init: .*(libvulkan|nvidia|GLX)' "$work/loader.log" |
    sed 's/^ *[0-9]*:[[:space:]]*/   ld.so: /' | awk '!seen[$0]++' | head -12

  step gpu-info 15 bash -c '
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv
      nvidia-smi -q | sed -n "1,40p"
    else echo "no nvidia-smi"; fi'
  local py="" have_torch="" cand
  for cand in ${VKBN_KIT_PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null 2>&1 && timeout 20 "$cand" -c "import torch" 2>/dev/null; then
      py=$cand have_torch=1
      break
    fi
  done
  if [ -n "$have_torch" ]; then
    step torch-info 15 "$py" -c '
import torch
print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version(),
      "available", torch.cuda.is_available())
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print("cuda%d: %s, %d SMs, %.1f GiB, compute %d.%d" % (i, p.name, p.multi_processor_count,
          p.total_memory / 2**30, p.major, p.minor))'
  fi

  step devices 15 "$kit/bin/vkbn" devices
  local dev=${VKBN_KIT_DEVICE:-}
  if [ -z "$dev" ]; then
    # A Vulkan device: vkbn's default when it is one (a GPU), else the first
    # Vulkan device listed (lavapipe, where the default is vkbn's CPU path,
    # which outruns it), else the CPU path.
    dev=$(awk '/^device [0-9]+/ {n = $2; sub(":", "", n); order[++k] = n; if ($0 ~ /\(default\)/) def = n}
               /vkbn.s own path/ {cpu[n] = 1}
               END {if (def != "" && !cpu[def]) {print def; exit}
                    for (i = 1; i <= k; ++i) if (!cpu[order[i]]) {print order[i]; exit}
                    print def}' "$work/devices.log")
    dev=${dev:-0}
  fi
  # The device line: the chosen device's block of `vkbn devices`.
  awk -v d="$dev" '/^device /{on = (d ~ /^[0-9]+$/) ? ($2 == d || $2 == d ":") : index($0, d) > 0} on' "$work/devices.log" > "$work/device.txt"
  if grep -q "vkbn's own path" "$work/device.txt"; then
    echo "note: device $dev is vkbn's CPU path: no Vulkan device was found (see devices.log, loader.log)"
    dev=cpu # the tests take "cpu" for the CPU path (any other request must open a Vulkan device)
  fi
  echo "device $dev:"; sed 's/^/   /' "$work/device.txt"

  # shellcheck disable=SC2086
  step check 40 "$kit/bin/vkbn" check --device "$dev" ${VKBN_KIT_CHECK_ARGS:-}
  step link 10 env VKBN_TEST_DEVICE="$dev" "$kit/bin/test_link"
  step forward-large 45 env VKBN_TEST_DEVICE="$dev" "$kit/bin/test_forward" large
  step backward-large 45 env VKBN_TEST_DEVICE="$dev" "$kit/bin/test_backward" large

  # The quick suite on the device, a run per suite so that a hang loses one
  # suite's JSON, not all of them.
  local suites=${VKBN_KIT_SUITES:-resnet50_b32 resnet50_b1 sweep,small_batch} s budget jsons=()
  for s in $suites; do
    case $s in resnet50_b32) budget=75 ;; *) budget=30 ;; esac
    # shellcheck disable=SC2086
    step "bench-${s%%,*}" $budget "$kit/bin/vkbn-bench" --device "$dev" --suite "$s" ${VKBN_KIT_BENCH_ARGS:-} \
      --json "$work/vkbn-bench-${s%%,*}.json"
    [ -s "$work/vkbn-bench-${s%%,*}.json" ] && jsons+=("$work/vkbn-bench-${s%%,*}.json")
  done

  # What the planner predicted for an H100 from its device profile (no GPU
  # needed), set beside what was just measured (README, "Figures").
  step predict 10 "$kit/bin/vkbn-bench" --predict h100 --json "$work/predict-h100.json"
  if [ ${#jsons[@]} -gt 0 ] && [ -s "$work/predict-h100.json" ] && command -v python3 >/dev/null 2>&1; then
    step compare-prediction 10 bash -c 'python3 "$1" "${@:2}" > "$0"' "$work/prediction-vs-measured.md" \
      "$kit/bench/compare_prediction.py" "$work/predict-h100.json" "${jsons[@]}"
  else
    skip compare-prediction "no prediction or no vkbn-bench JSON or no python3"
  fi

  # PyTorch on CUDA: eager (cuDNN's batch norm, or PyTorch's own kernels
  # where cuDNN declines), then torch.compile on a subset, each its own run.
  local peers=()
  if [ -z "$have_torch" ]; then
    skip torch-eager "no python3 with torch here (python3 -c 'import torch' fails): no PyTorch peer"
    skip torch-compile "no python3 with torch"
  elif [ ${#jsons[@]} -eq 0 ]; then
    skip torch-eager "no vkbn-bench JSON to take the cases from"
    skip torch-compile "no vkbn-bench JSON"
  else
    step torch-eager 40 "$py" "$kit/bench/peers/torch_bn.py" --cases "${jsons[@]}" --out "$work/torch-eager.json" \
      --device cuda --compile off --deadline 28
    step torch-compile 75 "$py" "$kit/bench/peers/torch_bn.py" --cases "${jsons[@]}" \
      --out "$work/torch-compile.json" --device cuda --compile only \
      --compile-cases "${VKBN_KIT_COMPILE_CASES:-^resnet50_b32/}" --deadline 55
    for s in eager compile; do [ -s "$work/torch-$s.json" ] && peers+=("$work/torch-$s.json"); done
  fi

  if [ ${#jsons[@]} -gt 0 ] && command -v python3 >/dev/null 2>&1; then
    VKBN_KIT_TAIL=60 step report 15 python3 "$kit/bench/report.py" --out-dir "$work/report" "${jsons[@]}" \
      "${peers[@]+"${peers[@]}"}"
  else
    skip report "no vkbn-bench JSON or no python3"
  fi

  echo
  echo "== steps (limits sum to at most ${total} s; each under timeout -k 5):"
  cat "$steps"
  echo "total: $((SECONDS - t0)) s"
  cp "$steps" "$out/STEPS.txt"
  [ -f "$work/report/summary.md" ] && cp "$work/report/summary.md" "$out/"
  [ -f "$work/report/results.json" ] && cp "$work/report/results.json" "$out/"
  cp "$work/device.txt" "$out/device.txt" 2>/dev/null
  cp "$work/prediction-vs-measured.md" "$out/" 2>/dev/null
  echo "out: $(cd "$out" && ls | tr '\n' ' ')+ logs.tar.gz, run.log"
  # Everything else (each step's log, the raw JSON, the chart if gnuplot
  # was there) in one file.
  exec >&3 2>&4 3>&- 4>&-
  wait "$tee_pid" 2>/dev/null
  cp "$work/run.log" "$out/run.log"
  tar czf "$out/logs.tar.gz" -C "$work" --exclude xdg .
  rm -rf "$work"
  exit 0
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  run) shift; run "$@" ;;
  *) usage ;;
esac
