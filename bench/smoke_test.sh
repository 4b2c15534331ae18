#!/usr/bin/env bash
# ctest bench_smoke: vkbn-bench on a handful of small cases, then the report,
# and checks that what they wrote is whole and plausible. Exits 77 (skip)
# when vkbn lists no device.
#   bench/smoke_test.sh VKBN_BENCH OUT_DIR
set -euo pipefail
bench=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"
mkdir -p "$out"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}

# Quick timing: what is checked is the cases' completeness and byte counts,
# not their speed. f32 on two shapes, and two bf16 cases: 2-byte elements in the byte counts;
# backward_relu_mask counts the activation mask's bytes instead of y's.
"$bench" --full --timing quick --suite resnet50_b1 --op train,infer_add_relu,backward_relu,backward_relu_mask --dtype f32,bf16 \
  --json "$out/vkbn-bench.json" \
  --benchmark_filter='/(f32/1x(64x56x56|2048x7x7)|train/nhwc/bf16/1x64x56x56|backward_relu(_mask)?/nchw/bf16/1x2048x7x7)/' \
  > "$out/console.txt" 2>&1 || {
  cat "$out/console.txt"
  exit 1
}
if grep -q "no device to run on" "$out/console.txt"; then exit 77; fi

python3 - "$out/vkbn-bench.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
vkbn = [d["device"] for d in doc["devices"] if d["impl"] == "vkbn"]
if not vkbn:
    sys.exit(77)
results = [r for r in doc["results"] if r["impl"] == "vkbn"]
# Ops a device does not offer are skipped, not failed.
offered = {(s["key"].split("/")[1], s["device"]) for s in doc["skipped"] if "UNSUPPORTED" in s["reason"]}
want = {(k, d) for d in vkbn for k in (
    "resnet50_b1/train/nchw/f32/1x64x56x56", "resnet50_b1/train/nhwc/f32/1x2048x7x7",
    "resnet50_b1/infer_add_relu/nchw/f32/1x64x56x56", "resnet50_b1/infer_add_relu/nhwc/f32/1x2048x7x7",
    "resnet50_b1/backward_relu/nchw/f32/1x64x56x56", "resnet50_b1/backward_relu/nhwc/f32/1x2048x7x7",
    "resnet50_b1/train/nhwc/bf16/1x64x56x56", "resnet50_b1/backward_relu/nchw/bf16/1x2048x7x7",
    "resnet50_b1/backward_relu_mask/nchw/f32/1x64x56x56", "resnet50_b1/backward_relu_mask/nhwc/f32/1x2048x7x7",
    "resnet50_b1/backward_relu_mask/nchw/bf16/1x2048x7x7")
    if (k.split("/")[1], d) not in offered}
got = {(r["key"], r["device"]) for r in results}
assert want <= got, "missing results: %s" % sorted(want - got)
# x y (z); x dy y dx; x dy dx and the activation mask, 4 * ceil(elements / 32) bytes
tensors_of = {"train": 2, "infer_add_relu": 3, "backward_relu": 4, "backward_relu_mask": 3}
element_bytes = {"f32": 4, "bf16": 2}
for r in results:
    assert not r.get("error"), r
    assert r["samples"] >= 3 and r["copy_samples"] >= 3, r
    tensors = tensors_of[r["op"]]
    elements = r["n"] * r["c"] * r["spatial"][0] * r["spatial"][1]
    mask = (elements + 31) // 32 * 4 if r["op"] == "backward_relu_mask" else 0
    assert r["bytes"] == tensors * r["tensor_bytes"] + mask == tensors * element_bytes[r["dtype"]] * elements + mask, r
    assert abs(r["gbps"] - r["bytes"] / r["seconds"] / 1e9) <= 1e-3 * r["gbps"], r
    assert abs(r["copy_gbps"] - 2 * r["tensor_bytes"] / r["copy_seconds"] / 1e9) <= 1e-3 * r["copy_gbps"], r
    assert abs(r["efficiency"] - r["gbps"] / r["copy_gbps"]) <= 1e-3 * r["efficiency"], r
    # No bound on the value itself: a case's fastest sample and its copy's may
    # come from different loads of a shared machine (once 18.7), and a test
    # must not depend on what else runs. Positive and finite is what holds.
    assert 0 < r["efficiency"] < float("inf"), r
    assert r["seconds"] <= r["seconds_median"] <= r["seconds_max"], r
peers = [r for r in doc["results"] if r["impl"] != "vkbn"]
for r in peers:
    assert not r.get("error") and r["gbps"] > 0, r
    if r["ceiling"]:  # the CPU path's copy, sampled before the peer's case
        assert r["copy_samples"] >= 3 and r["efficiency"] > 0, r
print("vkbn-bench.json: %d results on %s, %d of peers" % (len(results), ", ".join(vkbn), len(peers)))
EOF

python3 "$here/report.py" --out-dir "$out" "$out/vkbn-bench.json" > "$out/report.txt"
for f in results.json summary.md; do
  test -s "$out/$f" || { echo "report wrote no $f"; cat "$out/report.txt"; exit 1; }
done
grep -q "ResNet-50 batch-norm shapes, batch 1" "$out/summary.md"
grep -q "| train | nchw |" "$out/summary.md"
echo "report: ok"
