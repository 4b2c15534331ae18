#!/usr/bin/env bash
# `make test-package`: vkbn as an installed package.
#   tests/package/run.sh STATIC_BUILD WORK
# Builds vkbn shared (Debug: quick to compile; with vkbn_mpi when MPI is
# found) and installs it; installs
# STATIC_BUILD (an existing static build) too; checks the shared library's
# SONAME and that it exports exactly the VKBN_API / VKBN_MPI_API functions;
# then builds and runs the out-of-tree consumer (tests/package/consumer)
# against each installed tree, through find_package and through pkg-config.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
static_build=$(cd "${1:?static build dir}" && pwd)
mkdir -p "${2:?work dir}"
work=$(cd "$2" && pwd)
jobs=${JOBS:-2}
t0=$(date +%s)

# The SPIR-V comes from the static build (it depends on shaders/ only), and
# of the x86-64 kernel levels only the scalar one is built: this checks the
# package, the static build installed beside it is complete.
cmake -S "$src" -B "$work/shared" -DCMAKE_BUILD_TYPE=Debug -DVKBN_SHARED=ON -DVKBN_SPIRV_FROM="$static_build" \
  -DVKBN_CPU_X86_LEVELS= \
  -DVKBN_BUILD_TESTS=OFF -DVKBN_BUILD_BENCH=OFF -DVKBN_BUILD_TOOLS=ON >/dev/null
cmake --build "$work/shared" -j "$jobs" >"$work/shared-build.log" 2>&1 ||
  { tail -n 50 "$work/shared-build.log"; exit 1; }
rm -rf "$work/prefix-shared" "$work/prefix-static"
cmake --install "$work/shared" --prefix "$work/prefix-shared" >/dev/null
cmake --install "$static_build" --prefix "$work/prefix-static" >/dev/null

shared_lib=$(ls "$work"/prefix-shared/lib*/libvkbn.so.*.*.* | head -n1)
libdir=$(dirname "$shared_lib")
soname=$(readelf -d "$shared_lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libvkbn.so.0 ] || { echo "package: SONAME is '$soname', want libvkbn.so.0" >&2; exit 1; }
[ -L "$libdir/libvkbn.so" ] && [ -L "$libdir/libvkbn.so.0" ] || { echo "package: libvkbn.so links missing" >&2; exit 1; }
# The public header, plus the test-only exports (vkbn_test_set_hooks,
# vkbn_test_host_allocations), declared in the uninstalled
# src/core/test_hooks.h so that the same tests run against the shared library.
cmake -DNM=nm -DLIB="$shared_lib" -DMACRO=VKBN_API -DHEADER="$src/include/vkbn/vkbn.h;$src/src/core/test_hooks.h" \
  -P "$src/tests/package/check_exports.cmake"
if ls "$libdir"/libvkbn_mpi.so.*.*.* >/dev/null 2>&1; then
  cmake -DNM=nm -DLIB="$(ls "$libdir"/libvkbn_mpi.so.*.*.* | head -n1)" -DMACRO=VKBN_MPI_API \
    -DHEADER="$src/include/vkbn/vkbn_mpi.h" -P "$src/tests/package/check_exports.cmake"
fi
for f in include/vkbn/vkbn.h bin/vkbn; do
  [ -e "$work/prefix-shared/$f" ] || { echo "package: $f not installed" >&2; exit 1; }
done
"$work/prefix-shared/bin/vkbn" --version >/dev/null

for kind in shared static; do
  prefix=$work/prefix-$kind
  for way in cmake pkg-config; do
    b=$work/consumer-$kind-$way
    rm -rf "$b"
    if [ $way = cmake ]; then
      cmake -S "$src/tests/package/consumer" -B "$b" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    else
      PKG_CONFIG_PATH=$(ls -d "$prefix"/lib*/pkgconfig | head -n1) \
        cmake -S "$src/tests/package/consumer" -B "$b" -DUSE_PKG_CONFIG=ON >/dev/null
    fi
    cmake --build "$b" >/dev/null
    echo -n "package: $kind, $way: "
    "$b/consumer"
  done
done
echo "package: passed in $(( $(date +%s) - t0 ))s"
