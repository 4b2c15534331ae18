#!/usr/bin/env bash
# `make test-windows`: the MinGW-w64 cross build run under Wine.
#   scripts/test-windows.sh BUILD DLL_BUILD
# BUILD: the static cross build (configured and built by the Makefile), whose
# tests run here: the CPU path (the forward matrix at every ISA level built,
# scalar and AVX2; the backward matrix at the
# scalar and AVX2 levels, all at 3 threads with streaming stores, which
# split and merge; the API, bad-input
# and training tests; the other backward levels' kernels are the same C,
# run natively in the Linux lanes, and cost 20 s each under Wine), then the
# Vulkan tests through Wine's Vulkan (winevulkan onto the host's
# loader) on lavapipe under Xvfb. That part fails, not skips, when Wine's
# Vulkan does not list lavapipe. The Makefile runs the whole script under one
# Xvfb display: winevulkan goes through Wine's X11 driver, which Wine's
# desktop process loads only when it starts with a display, so the Wine
# session must start under the same display the Vulkan tests use. DLL_BUILD: vkbn as a DLL (Debug: quick to
# compile), checked to import nothing MinGW-specific, with the API test and
# the tool run against it.
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
dll_build=${2:?dll build dir}
jobs=${JOBS:-2}
t0=$(date +%s)
wine=$(sed -n 's/^VKBN_WINE64:FILEPATH=//p' "$build/CMakeCache.txt")
[ -x "$wine" ] || { echo "test-windows: wine64 not found (scripts/deps.sh installs it)" >&2; exit 1; }
export WINEPREFIX=$build/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wineserver=$(dirname "$wine")/wineserver
[ -x "$wineserver" ] || wineserver=wineserver
# One prefix (created once, then kept in the build tree) and one persistent
# server for the whole run. The server and Wine's services are started with
# no pipe attached: they would hold a caller's pipe open after the program ends.
if [ ! -f "$WINEPREFIX/.update-timestamp" ]; then
  "$wine" wineboot -i </dev/null >/dev/null 2>&1
  "$wineserver" -w
fi
[ -n "${DISPLAY:-}" ] || { echo "test-windows: no X display (run under xvfb-run, as make test-windows does)" >&2; exit 1; }
"$wineserver" -k >/dev/null 2>&1 || true # a server started under another display
"$wineserver" -p 60 </dev/null >/dev/null 2>&1
"$wine" wineboot </dev/null >/dev/null 2>&1
trap '"$wineserver" -k >/dev/null 2>&1 || true' EXIT

echo "test-windows: CPU path under Wine"
(cd "$build" && ctest --output-on-failure -j "$jobs" -LE large \
  -R '^forward_cpu_.*_t3$|^backward_cpu_(scalar|avx2)_t3$|^(testkit|api_cpu|cpu|backward_api_cpu|training_loop_cpu)$')
t1=$(date +%s)

echo "test-windows: Vulkan through Wine on lavapipe (Xvfb)"
# Wine's vulkan-1.dll is its own, not the Khronos loader: no layers, so the
# tests run without the validation layers here.
export VKBN_TEST_NO_VALIDATION=1
devices=$("$wine" "$build/bin/vkbn.exe" devices 2>&1 || true)
if ! grep -qi llvmpipe <<<"$devices"; then
  echo "test-windows: Wine's Vulkan does not list lavapipe; 'vkbn.exe devices' said:" >&2
  echo "$devices" >&2
  exit 1
fi
(cd "$build" && ctest --output-on-failure -j "$jobs" \
  -R '^(api|backward_api|training_loop|forward_subgroup8|backward_windows|forward_windows)$')
t2=$(date +%s)

echo "test-windows: vkbn as a DLL"
imports=$(x86_64-w64-mingw32-objdump -p "$dll_build/bin/libvkbn.dll" | sed -n 's/^\s*DLL Name: //p' | tr '\n' ' ')
echo "test-windows: libvkbn.dll imports: $imports"
if grep -qiE 'libgcc|winpthread|libstdc' <<<"$imports"; then
  echo "test-windows: libvkbn.dll needs MinGW runtime DLLs" >&2
  exit 1
fi
(cd "$dll_build" && ctest --output-on-failure -R '^api_cpu$')
VKBN_CPU_ISA=scalar "$wine" "$dll_build/bin/vkbn.exe" devices | grep -i "cpu"
t3=$(date +%s)
echo "test-windows: passed (CPU $((t1 - t0))s, Vulkan $((t2 - t1))s, DLL $((t3 - t2))s)"
