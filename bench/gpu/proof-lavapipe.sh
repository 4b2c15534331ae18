#!/usr/bin/env bash
# Proves the GPU kit without a GPU: `kit.sh run` in a minimal Debian 12 root
# (debootstrap, as root) with Mesa's lavapipe and no Vulkan loader and no
# Google Benchmark installed, so that both can only come from the kit.
#   bench/gpu/proof-lavapipe.sh [ROOT] [LOG]   (defaults: /tmp/debroot, bench/gpu/proof-lavapipe.log)
# Run bench/gpu/kit.sh pack first. lavapipe on a small machine is far slower
# than a GPU: `vkbn check` runs --quick, the bench only train, infer and
# backward in NCHW, and the steps the GPU's limits do not fit time out (which
# shows the limits at work).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${1:-/tmp/debroot}
log=${2:-$repo/bench/gpu/proof-lavapipe.log}
[ -x "$repo/.gpu/kit/bin/vkbn" ] || { echo "no kit: bench/gpu/kit.sh pack first" >&2; exit 1; }
command -v debootstrap >/dev/null || apt-get install -y -q --no-install-recommends debootstrap >/dev/null
if [ ! -x "$root/bin/bash" ]; then
  mirror=http://deb.debian.org/debian
  debootstrap --variant=minbase bookworm "$root" "$mirror"
fi
for m in proc dev sys; do
  mountpoint -q "$root/$m" && continue
  case $m in proc) mount -t proc proc "$root/proc" ;; dev) mount --bind /dev "$root/dev" ;; sys) mount -t sysfs sys "$root/sys" ;; esac
done
trap 'umount "$root/proc" "$root/dev" "$root/sys" 2>/dev/null || true' EXIT
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
if ! in_root dpkg-query -W mesa-vulkan-drivers >/dev/null 2>&1; then
  in_root bash -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q --no-install-recommends mesa-vulkan-drivers python3' >/dev/null
fi
# mesa-vulkan-drivers depends on the loader: take the loader out again.
in_root dpkg-query -W libvulkan1 >/dev/null 2>&1 && in_root dpkg --remove --force-depends libvulkan1 >/dev/null 2>&1
# The checkout as the device tool sends it: tracked and untracked files, and the kit.
rm -rf "$root/repo" "$root/tmp/out"
mkdir -p "$root/repo"
(cd "$repo" && { git ls-files -co --exclude-standard; find .gpu/kit -type f; } | tar cf - -T -) | tar xf - -C "$root/repo"
{
  echo "# bench/gpu/proof-lavapipe.sh: kit.sh run in a minimal Debian 12 root ($(date -u +%Y-%m-%d))"
  echo "# The root: debootstrap --variant=minbase bookworm, + mesa-vulkan-drivers python3, libvulkan1 removed:"
  echo "\$ dpkg-query -W libvulkan1 libbenchmark1debian mesa-vulkan-drivers"
  in_root dpkg-query -W -f='${Package} ${Version} ${Status}\n' libvulkan1 libbenchmark1debian mesa-vulkan-drivers 2>&1 || true
  echo "\$ ldconfig -p | grep -E 'libvulkan.so|libbenchmark'"
  in_root bash -c "ldconfig -p | grep -E 'libvulkan.so|libbenchmark' || echo '(none: no Vulkan loader, no Google Benchmark in this root)'"
  echo "\$ cd /repo && VKBN_KIT_ICD=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json VKBN_KIT_CHECK_ARGS=--quick \\"
  echo "    VKBN_KIT_BENCH_ARGS='--op train,infer,backward --layout nchw' bench/gpu/kit.sh run /tmp/out"
  echo
} > "$log"
in_root VKBN_KIT_ICD=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json VKBN_KIT_CHECK_ARGS=--quick \
  VKBN_KIT_BENCH_ARGS="--op train,infer,backward --layout nchw" \
  bash -c 'cd /repo && bench/gpu/kit.sh run /tmp/out' >/dev/null 2>&1 || true
cat "$root/tmp/out/run.log" >> "$log"
echo "\$ ls -l /tmp/out" >> "$log"
ls -l "$root/tmp/out" | tail -n +2 >> "$log"
echo "log: $log ($(wc -l < "$log") lines); output: $root/tmp/out"
