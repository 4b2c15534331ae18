#!/usr/bin/env bash
# Makes sure the Debian/Ubuntu packages a make target needs are installed.
#   scripts/deps.sh test    build + tests (lavapipe and validation layers included, Open MPI for vkbn_mpi,
#                           the aarch64 cross compiler and qemu-user for the CPU path,
#                           MinGW-w64, Wine and Xvfb for the Windows build, clang for the fuzzers)
#   scripts/deps.sh bench   the above + Google Benchmark (+ optional peers: oneDNN, PyTorch)
# Installs what is missing with apt-get when it can (root, or sudo without a
# password); otherwise prints the exact command and exits 1.
set -euo pipefail

what=${1:-test}
required=(cmake make gcc g++ pkg-config glslang-tools spirv-tools libvulkan-dev libvulkan-volk-dev
          mesa-vulkan-drivers vulkan-validationlayers gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user
          libopenmpi-dev openmpi-bin   # vkbn_mpi, its tests and examples/mpi_train (mpirun)
          gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine64 xvfb xauth  # make test-windows
          clang libclang-rt-dev)  # make test-fuzz: libFuzzer
optional=()
case "$what" in
  test) ;;
  # python3: bench/report.py. Optional peers, skipped when they cannot be installed: oneDNN (libdnnl-dev)
  # and PyTorch (python3-torch: Debian's CPU build, about 1 GiB with its dependencies).
  bench) required+=(libbenchmark-dev gnuplot-nox python3); optional+=(libdnnl-dev python3-torch) ;;
  *) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac

missing() {
  local out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
  done
  echo "${out[@]:-}"
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: not a Debian/Ubuntu system; install the equivalents of: ${required[*]}" >&2
  exit 0
fi

need=$(missing "${required[@]}")
want=$(missing "${optional[@]+"${optional[@]}"}")
[ -z "$need" ] && [ -z "$want" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  apt=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt=(sudo apt-get)
else
  if [ -n "$need" ]; then
    echo "deps: missing packages. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y $need $want" >&2
    exit 1
  fi
  echo "deps: optional packages not installed (peers are skipped): $want" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps: installing $need $want" >&2
"${apt[@]}" update -q >/dev/null || true
if [ -n "$need" ]; then
  "${apt[@]}" install -y -q --no-install-recommends $need >/dev/null
fi
if [ -n "$want" ]; then
  "${apt[@]}" install -y -q --no-install-recommends $want >/dev/null ||
    echo "deps: could not install optional $want; continuing without" >&2
fi
