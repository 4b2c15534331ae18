#!/usr/bin/env python3
"""PyTorch's batch normalization on the cases vkbn-bench ran, as a peer.

Reads the cases from vkbn-bench's JSON (so the shapes, layouts and types are
the same), runs torch.nn.functional.batch_norm on the CPU (with the same
thread count as vkbn's CPU path) and on CUDA where available, eager and,
where torch has it, torch.compile, and writes its results in the same JSON
fields as vkbn-bench so the report can line them up.

Fusions are written as a PyTorch model writes them (torchvision's ResNet):
y = bn(x); y += z; relu_(y). torch.compile compiles that function once with
dynamic shapes (a compile per shape would take longer than the benchmark).

Timing follows the harness: a warm-up run, then samples of `reps`
back-to-back runs lasting about sample_seconds each, the fastest sample; CUDA
events on the GPU, wall time on the CPU.

    python3 bench/peers/torch_bn.py --cases bench/out/vkbn-bench.json --out bench/out/torch.json

On a GPU machine with a time limit (bench/gpu/kit.sh): eager and compiled in two
runs, each writing its own JSON, compiling only some cases, stopping in time:

    torch_bn.py --cases C --out eager.json --device cuda --compile off --deadline 60
    torch_bn.py --cases C --out compile.json --device cuda --compile only \
        --compile-cases '^resnet50_b32/' --deadline 90
"""
import argparse
import json
import math
import os
import re
import signal
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", required=True, nargs="+",
                   help="vkbn-bench's JSON (its cases, devices and timing); several: their cases in turn")
    p.add_argument("--out", required=True, help="where to write this peer's JSON")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "all"],
                   help="auto: the CPU when vkbn-bench timed it (CPU path or oneDNN), CUDA when it timed a GPU")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: those of vkbn's CPU path, else all)")
    p.add_argument("--compile", default="auto", choices=["auto", "on", "off", "only"],
                   help="torch.compile as well as eager; auto: where torch has it; only: torch.compile, no eager")
    p.add_argument("--compile-cases", default="", metavar="REGEX",
                   help="compile only the cases whose key (suite/op/layout/dtype/shape) matches (re.search)")
    p.add_argument("--deadline", type=float, default=0, metavar="SECONDS",
                   help="start no case after this many seconds; the rest are listed as skipped (0: none)")
    return p.parse_args()


class Stop(BaseException):
    """SIGTERM (a timeout around this script): write what was measured."""


def on_sigterm(signum, frame):
    raise Stop()


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"


class Peer:
    """One (implementation, torch device) pair: a row source in the report."""

    def __init__(self, impl, device, name, hardware, ceiling, threads):
        self.impl, self.device, self.name = impl, device, name
        self.hardware, self.ceiling, self.threads = hardware, ceiling, threads
        self.driver = "PyTorch %s" % torch.__version__
        if device.type == "cuda":
            cudnn = torch.backends.cudnn
            self.driver += ", CUDA %s, %s" % (torch.version.cuda, "cuDNN %s" % cudnn.version()
                                             if cudnn.is_available() and cudnn.enabled else "no cuDNN")
        suffix = "cpu" if device.type == "cpu" else "cuda%d" % (device.index or 0)
        self.tag = "%s-%s" % (impl, suffix)

    def json(self):
        return {"device": self.tag, "impl": self.impl, "backend": self.device.type, "device_name": self.name,
                "driver": self.driver, "hardware": self.hardware, "ceiling": self.ceiling,
                "threads": self.threads, "f16": True, "bf16": True, "memory_budget": None}


# vkbn-bench's element types; the weight, bias and running statistics stay
# f32, as in vkbn (PyTorch's mixed-type batch norm, what autocast runs).
TORCH_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def make_tensor(case, device, dtype, gen):
    """x's shape in the case's layout (channels-last is (N, D1..Dk, C) in memory),
    filled with a 1M-element random block repeated: drawing every element would
    take longer than timing the op."""
    n, c, spatial = case["n"], case["c"], case["spatial"]
    dims = (n, *spatial, c) if case["layout"] == "nhwc" else (n, c, *spatial)
    count = math.prod(dims)
    block = torch.empty(min(count, 1 << 20)).uniform_(-3, 3, generator=gen).to(device=device, dtype=dtype)
    t = block.repeat(-(-count // block.numel()))[:count].view(dims)
    if case["layout"] == "nhwc":
        t = t.permute(0, len(spatial) + 1, *range(1, len(spatial) + 1))
    return t


def bn_forward(x, z, w, b, rm, rv, training: bool, relu: bool):
    """The op as a model's forward writes it (torchvision's ResNet)."""
    y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.1, eps=1e-5)
    if z is not None:
        y += z
    if relu:
        F.relu(y, inplace=True)
    return y


_compiled = None


def compiled_bn_forward():
    """One torch.compile of bn_forward for every case: dynamic shapes, so a new
    shape does not recompile (only a new op, layout, type or device does)."""
    global _compiled
    if _compiled is None:
        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 256)
        _compiled = torch.compile(bn_forward, dynamic=True)
    return _compiled


def build(case, device, compiled):
    """A closure running the case's op on fresh tensors. Backward ops run the
    forward once and then time what autograd runs for its backward (for the
    gradients of x, weight, bias and the residual): threshold_backward for a
    fused ReLU, then the batch-norm backward kernel (cuDNN's on CUDA)."""
    dtype = TORCH_DTYPES[case["dtype"]]
    gen = torch.Generator().manual_seed(1)
    op = case["op"]
    backward = op.startswith("backward")
    x = make_tensor(case, device, dtype, gen)
    z = make_tensor(case, device, dtype, gen) if "_add" in op else None
    c = case["c"]
    w = torch.ones(c, device=device)
    b = torch.zeros(c, device=device)
    rm = torch.zeros(c, device=device)
    rv = torch.ones(c, device=device)
    training = op.startswith("train") or (backward and op != "backward_frozen")
    relu = op.endswith("relu")
    fn = compiled_bn_forward() if compiled else bn_forward
    if not backward:
        return lambda: fn(x, z, w, b, rm, rv, training, relu)
    inputs = [t.detach().requires_grad_() for t in (x, w, b)] + ([z.detach().requires_grad_()] if z is not None else [])
    x, w, b = inputs[:3]
    y = fn(x, inputs[3] if z is not None else None, w, b, rm, rv, training, relu)
    dy = make_tensor(case, device, dtype, torch.Generator().manual_seed(4))
    return lambda: torch.autograd.grad(y, inputs, dy, retain_graph=True)


def timer(device):
    """A function running fn `reps` times and returning seconds per run."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def run(fn, reps):
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) * 1e-3 / reps
    else:
        def run(fn, reps):
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            return (time.perf_counter() - t0) / reps
    return run


def measure(fn, run, timing):
    """The harness's sampling (vkbn_bench.cc, sample()): warm-up (compiles, for
    torch.compile), calibrate on the fastest of up to four runs, then at least
    min_samples, until the budget (4x while samples spread over 1.5x); the
    fastest sample (the JSON keeps the median and the slowest too)."""
    run(fn, 1)
    first = run(fn, 1)
    for _ in range(3):
        if first >= timing["sample_seconds"]:
            break
        first = min(first, run(fn, 1))
    reps = max(1, min(100000, math.ceil(timing["sample_seconds"] / max(first, 1e-9))))
    samples, total = [], 0.0
    while len(samples) < timing["max_samples"]:
        noisy = samples and max(samples) > 1.5 * min(samples)
        if len(samples) >= timing["min_samples"] and total >= timing["sample_budget_seconds"] * (4 if noisy else 1):
            break
        s = run(fn, reps)
        samples.append(s)
        total += s * reps
    return min(samples), statistics.median(samples), max(samples), len(samples), reps


def main():
    args = parse_args()
    harness = None
    for path in args.cases:
        with open(path) as f:
            doc = json.load(f)
        if harness is None:
            harness = doc
        else:  # the timing of the first; the cases and devices of all
            harness["cases"] += doc["cases"]
            harness["devices"] += [d for d in doc["devices"] if d not in harness["devices"]]
    timing = harness["timing"]
    devices = harness["devices"]
    hardware = {d["hardware"] for d in devices}
    threads = args.threads or next((d["threads"] for d in devices if d["impl"] == "vkbn" and d["backend"] == "cpu"),
                                   0) or next((d["threads"] for d in devices if d["impl"] == "onednn"), 0) or os.cpu_count()
    torch.set_num_threads(threads)
    notes = []
    load = os.getloadavg()[0]
    if load >= 0.5 * os.cpu_count():
        notes.append("load average %.1f on %d cores before the run: other processes compete, times are inflated "
                     "and noisy" % (load, os.cpu_count()))

    # auto: the CPU when the harness timed it (vkbn's CPU path or oneDNN; not
    # for a Vulkan driver that merely runs on it), CUDA when it timed a GPU.
    cpu_timed = any(d["backend"] == "cpu" for d in devices)
    want_cpu = args.device in ("cpu", "all") or (args.device == "auto" and cpu_timed)
    want_cuda = args.device in ("cuda", "all") or (args.device == "auto" and "gpu" in hardware)
    cpu_ceiling = next((d["device"] for d in devices if d["impl"] == "vkbn" and d["backend"] == "cpu"), "")
    peers = []
    if want_cpu:
        peers.append(Peer("torch", torch.device("cpu"), cpu_name(), "cpu", cpu_ceiling, torch.get_num_threads()))
    if want_cuda:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                name = torch.cuda.get_device_name(i)
                # The Vulkan device of the same name is this GPU: its copy is the ceiling.
                ceiling = next((d["device"] for d in devices if d["impl"] == "vkbn" and d["backend"] == "vulkan" and (
                    name.lower() in d["device_name"].lower() or d["device_name"].lower() in name.lower())), "")
                peers.append(Peer("torch", torch.device("cuda", i), name, "gpu", ceiling, 0))
        elif args.device != "auto":
            notes.append("torch: CUDA is not available")
    can_compile = hasattr(torch, "compile") and args.compile != "off"
    if args.compile != "off" and not hasattr(torch, "compile"):
        notes.append("torch %s has no torch.compile: %s" % (torch.__version__, "nothing to run" if args.compile == "only"
                                                           else "eager only"))
    eager = [] if args.compile == "only" else list(peers)
    peers = eager + ([Peer("torch.compile", p.device, p.name, p.hardware, p.ceiling, p.threads) for p in peers]
                     if can_compile else [])
    compile_filter = re.compile(args.compile_cases) if args.compile_cases else None
    if can_compile and compile_filter:
        notes.append("torch.compile on the cases matching '%s' only" % args.compile_cases)

    if not peers:
        notes.append("nothing to run: vkbn-bench timed neither the CPU nor a GPU (see --device)")
    results, skipped = [], []
    failed_compile = False
    start = time.monotonic()
    late = 0
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        for case in harness["cases"]:
            for peer in peers:
                if peer.impl == "torch.compile" and failed_compile:
                    continue
                if peer.impl == "torch.compile" and compile_filter and not compile_filter.search(case["key"]):
                    continue
                if args.deadline and time.monotonic() - start > args.deadline:
                    skipped.append({"key": case["key"], "device": peer.tag, "reason": "out of time (--deadline %g s)"
                                    % args.deadline})
                    late += 1
                    continue
                try:
                    fn = build(case, peer.device, peer.impl == "torch.compile")
                    run = timer(peer.device)
                    seconds, smedian, smax, count, reps = measure(fn, run, timing)
                except Exception as e:  # unsupported type or layout on this device, out of memory, ...
                    reason = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
                    skipped.append({"key": case["key"], "device": peer.tag, "reason": reason})
                    if peer.impl == "torch.compile" and case["dtype"] == "f32":
                        failed_compile = True
                        notes.append("torch.compile failed (%s); eager only from there on" % reason)
                    continue
                finally:
                    if peer.device.type == "cuda":
                        torch.cuda.empty_cache()
                r = dict(case)
                r.update({"device": peer.tag, "impl": peer.impl, "hardware": peer.hardware, "device_name": peer.name,
                          "ceiling": peer.ceiling, "seconds": seconds, "seconds_median": smedian, "seconds_max": smax,
                          "samples": count, "reps": reps, "gbps": case["bytes"] / seconds / 1e9, "copy_gbps": None,
                          "efficiency": None, "vs_cpu": None, "vs_peer": None, "plan": ""})
                results.append(r)
                print("%-60s %-18s %10.1f us %8.2f GB/s" % (case["key"], peer.tag, seconds * 1e6, r["gbps"]), flush=True)
    except (Stop, KeyboardInterrupt):
        notes.append("stopped after %.0f s (SIGTERM or interrupt): the cases after the last result were not run"
                     % (time.monotonic() - start))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if late:
        notes.append("%d (case, peer) pairs not started: past the --deadline of %g s" % (late, args.deadline))

    out = {"schema": "vkbn-bench/1", "tool": "torch_bn.py", "torch_version": torch.__version__,
           "env": {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")
                   if k in os.environ},
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(sys.argv),
           "timing": timing, "devices": [p.json() for p in peers], "results": results, "skipped": skipped,
           "notes": notes}
    with open(args.out, "w") as f:  # one result per line, like vkbn-bench's
        f.write("{\n%s\n}\n" % ",\n".join("%s: %s" % (json.dumps(k), "[\n%s\n]" % ",\n".join(
            "  " + json.dumps(x) for x in v) if isinstance(v, list) and v else json.dumps(v)) for k, v in out.items()))
    kinds = {}
    for s in skipped:
        k = (s["device"], s["reason"][:80])
        kinds[k] = kinds.get(k, 0) + 1
    for (dev, reason), n in sorted(kinds.items()):
        print("skipped %d cases on %s (%s)" % (n, dev, reason))
    for n in notes:
        print("note: %s" % n)
    print("json: %s" % args.out)


if __name__ == "__main__":
    main()
