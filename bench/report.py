#!/usr/bin/env python3
"""Merges vkbn-bench's JSON with the peers' JSON files into one results file,
derives the counters across them, and writes the summary (Markdown) and the
chart (gnuplot: SVG and PNG).

    python3 bench/report.py --out-dir bench/out bench/out/vkbn-bench.json [bench/out/torch.json ...]

Counters (the same definitions as vkbn-bench's, over every file):
  gbps        effective bytes / seconds / 1e9 (SEMANTICS.md: x + y (+ z) for forward)
  copy_gbps   the copy of a tensor of the same size on the result's ceiling device
              (its own device for vkbn, vkbn's CPU path for CPU peers, the Vulkan
              device of the same name for CUDA peers), sampled right before the case
  efficiency  gbps / copy_gbps
  vs_cpu      vkbn on a Vulkan device: seconds on vkbn's CPU path / seconds here
  vs_peer     vkbn: seconds of the fastest peer on the same device / seconds here
Standard library only.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from collections import OrderedDict, defaultdict

OP_ORDER = ["train", "train_relu", "train_add", "train_add_relu", "infer", "infer_relu", "infer_add",
            "infer_add_relu", "backward", "backward_relu", "backward_add_relu", "backward_frozen",
            "backward_relu_mask"]


def op_rank(op):
    """Report order: the known ops, then any others by name."""
    return (OP_ORDER.index(op), "") if op in OP_ORDER else (len(OP_ORDER), op)


# Element types in column order: the summary's per-type columns and the chart's panels.
DTYPES = ("f32", "f16", "bf16")

SUITE_TITLES = OrderedDict([
    ("resnet50_b32", "ResNet-50 batch-norm shapes, batch 32"),
    ("resnet50_b1", "ResNet-50 batch-norm shapes, batch 1"),
    ("small_batch", "Small-batch inference (ResNet-50 shapes)"),
    ("sweep", "Size sweep, tensors of at least {large}"),
    ("custom", "Shapes given with --shape"),
])
MIB = 1 << 20


def load(paths):
    runs, devices, results, skipped, notes = [], OrderedDict(), [], [], []
    host, timing, caches = {}, {}, []
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        runs.append({k: doc.get(k) for k in ("tool", "command", "date", "suite_set", "vkbn_version",
                                             "torch_version") if doc.get(k) is not None})
        host = host or doc.get("host", {})
        timing = timing or doc.get("timing", {})
        for d in doc.get("devices", []):
            devices.setdefault(d["device"], d)
        results += doc.get("results", [])
        skipped += doc.get("skipped", [])
        caches += doc.get("pipeline_cache", [])
        notes += ["%s: %s" % (doc.get("tool", path), n) for n in doc.get("notes", [])]
    return runs, host, timing, devices, results, skipped, notes, caches


def cache_table(devices, caches):
    """Start-up cost: pipeline creation without and with vkbn's cache file."""
    if not caches:
        return ""
    rows = ["### Pipeline creation at start-up (vkbn's pipeline-cache file)", "",
            "| device | plans | pipelines | cold (no file) | warm (file loaded) | warm / cold | cache hits | file |",
            "|---|---|---|---|---|---|---|---|"]
    for m in caches:
        d = devices.get(m["device"], {})
        cold, warm = m.get("cold_seconds", 0), m.get("warm_seconds", 0)
        hits = ("%d of %d" % (m.get("warm_cache_hits", 0), m.get("pipelines", 0)) if m.get("hits_reported")
                else "not reported")
        rows.append("| %s | %d | %d | %.1f ms | %.1f ms | %s | %s | %s, %d bytes of driver data |" % (
            device_label(d) if d else m["device"], m.get("plans", 0), m.get("pipelines", 0), cold * 1e3, warm * 1e3,
            "%.2f" % (warm / cold) if cold > 0 else "–", hits, m.get("status", ""), m.get("cache_file_bytes", 0)))
    return "\n".join(rows) + "\n"


def derive(results):
    """Fills gbps, copy_gbps, efficiency, vs_cpu, vs_peer and best_peer on every result.
    vkbn-bench samples each case's ceiling copy right before the case (also for
    oneDNN, on the CPU path); a result without its own copy (PyTorch's) takes
    the copy its ceiling device measured for the same case."""
    by_key = defaultdict(dict)  # key -> device -> result
    for r in results:
        if r.get("seconds"):
            by_key[r["key"]][r["device"]] = r
    for r in results:
        for k in ("gbps", "copy_gbps", "efficiency", "vs_cpu", "vs_peer", "best_peer"):
            r[k] = None
        if not r.get("seconds"):
            continue
        r["gbps"] = r["bytes"] / r["seconds"] / 1e9
        same = by_key[r["key"]]
        copy_seconds = r.get("copy_seconds") or (same.get(r.get("ceiling")) or {}).get("copy_seconds")
        if copy_seconds:
            r["copy_gbps"] = 2 * ((r["tensor_bytes"] + 3) // 4 * 4) / copy_seconds / 1e9
            r["efficiency"] = r["gbps"] / r["copy_gbps"]
        if r["impl"] != "vkbn":
            continue
        cpu = same.get("cpu")
        if r["device"] != "cpu" and cpu is not None and cpu["impl"] == "vkbn":
            r["vs_cpu"] = cpu["seconds"] / r["seconds"]
        peers = [p for p in same.values() if p["impl"] != "vkbn" and p.get("ceiling") == r["device"]]
        if peers:
            best = min(peers, key=lambda p: p["seconds"])
            r["vs_peer"] = best["seconds"] / r["seconds"]
            r["best_peer"] = best["device"]


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def device_label(d):
    name = d.get("device_name", d["device"])
    short = name.split(" (")[0]
    if d["impl"] == "vkbn":
        return "vkbn CPU path" if d.get("backend") == "cpu" else "vkbn %s" % short
    pretty = {"onednn": "oneDNN", "torch": "PyTorch", "torch.compile": "torch.compile"}.get(d["impl"], d["impl"])
    return "%s %s" % (pretty, "CPU" if d.get("hardware") == "cpu" else short)


def large_threshold(host):
    return max(64 * MIB, 2 * (host.get("llc_bytes") or 0))


def fmt_bytes(b):
    for unit, size in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1 << 10)):
        if b >= size:
            v = b / size
            return ("%d %s" if v == int(v) else "%.1f %s") % (v, unit)
    return "%d B" % b


def summary(devices, results, host):
    """Markdown: per suite, one row per vkbn device / op / layout; per dtype the
    geomean efficiency and the geomean ratio to the best peer (worst case in
    parentheses); the GPU/CPU ratio for Vulkan devices."""
    large = large_threshold(host)
    out = []
    for suite, title in SUITE_TITLES.items():
        rows = [r for r in results if r["suite"] == suite and r["impl"] == "vkbn" and r.get("seconds")]
        if suite == "sweep":
            rows = [r for r in rows if r["tensor_bytes"] >= large]
        if not rows:
            continue
        dtypes = [t for t in DTYPES if any(r["dtype"] == t for r in rows)]
        groups = OrderedDict()
        dev_order = {tag: i for i, tag in enumerate(devices)}
        for r in sorted(rows, key=lambda r: (dev_order.get(r["device"], 99), op_rank(r["op"]),
                                             r["layout"])):
            groups.setdefault((r["device"], r["op"], r["layout"]), defaultdict(list))[r["dtype"]].append(r)
        has_peer = any(r.get("vs_peer") for r in rows)
        has_cpu = any(r.get("vs_cpu") for r in rows)
        head = ["device", "op", "layout", "cases"]
        for t in dtypes:
            head.append("efficiency %s" % t)
            if has_peer:
                head.append("vs best peer %s" % t)
        if has_cpu:
            head += ["vs CPU path %s" % t for t in dtypes]
        body = []
        for (dev, op, layout), per_type in groups.items():
            cells = [device_label(devices[dev]) if dev in devices else dev, op, layout,
                     str(sum(len(v) for v in per_type.values()))]
            for t in dtypes:
                rs = per_type.get(t, [])
                eff = geomean([r.get("efficiency") for r in rs])
                cells.append("%.2f" % eff if eff else "–")
                if has_peer:
                    ratios = [r["vs_peer"] for r in rs if r.get("vs_peer")]
                    g = geomean(ratios)
                    cells.append("%.2f× (min %.2f×)" % (g, min(ratios)) if g else "–")
            if has_cpu:
                for t in dtypes:
                    g = geomean([r.get("vs_cpu") for r in per_type.get(t, [])])
                    cells.append("%.2f×" % g if g else "–")
            body.append(cells)
        # Drop columns no row fills (a type no peer ran, ...).
        keep = [i for i in range(len(head)) if i < 4 or any(row[i] != "–" for row in body)]
        lines = ["| " + " | ".join(head[i] for i in keep) + " |", "|" + "---|" * len(keep)]
        lines += ["| " + " | ".join(row[i] for i in keep) + " |" for row in body]
        out.append("### %s\n\n%s\n" % (title.format(large=fmt_bytes(large)), "\n".join(lines)))
    return "\n".join(out)


def legend_note(devices, timing, runs):
    parts = []
    for d in devices.values():
        parts.append("- %s: %s (%s)%s" % (device_label(d), d.get("device_name", ""), d.get("driver", ""),
                                                ", %d threads" % d["threads"] if d.get("threads") else ""))
    cmds = "; ".join("`%s`" % r["command"] for r in runs if r.get("command"))
    return ("Efficiency: effective bytes per second over the copy bandwidth of the same device at the same size, "
            "sampled right before each case. vs best peer: time of the fastest peer on the same device over vkbn's "
            "time (geometric mean over the cases; above 1 means vkbn is faster). vs CPU path: vkbn CPU path "
            "time over this device's time.\n\nDevices:\n%s\n\nCommands: %s\n" % ("\n".join(parts), cmds))


# ---------------------------------------------------------------------------
# Chart


PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


def chart(devices, results, host, runs, out_dir):
    """Throughput against tensor size, one panel per op (rows) and layout/dtype
    (columns), a line per device; each vkbn device's copy bandwidth, the
    ceiling, as a thick faint line of the same colour."""
    sweep = [r for r in results if r["suite"] == "sweep" and r.get("gbps")]
    if not sweep:
        return None, "no sweep results to chart"
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return None, "gnuplot not found (Debian: gnuplot-nox)"
    ops = sorted({r["op"] for r in sweep}, key=op_rank)
    cols = [(l, t) for t in DTYPES for l in ("nchw", "nhwc")
            if any(r["layout"] == l and r["dtype"] == t for r in sweep)]
    tags = sorted((t for t in devices if any(r["device"] == t for r in sweep)),
                  key=lambda t: devices[t]["impl"] != "vkbn")
    color = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(tags)}
    ceilings = [t for t in tags if devices[t]["impl"] == "vkbn" and any(
        r["device"] == t and r.get("copy_gbps") for r in sweep)]

    style = {}  # series -> (gnuplot style, legend title)
    for t in ceilings:
        style[("copy", t)] = ("with lines lw 7 lc rgb '%s'" % fade(color[t]),
                              "copy ceiling: %s" % device_label(devices[t]).replace("vkbn ", ""))
    for t in tags:
        style[("op", t)] = ("with linespoints lw 2 pt 7 ps 0.6 lc rgb '%s'" % color[t], device_label(devices[t]))

    blocks, panels = [], []
    for i, op in enumerate(ops):
        for j, (layout, dtype) in enumerate(cols):
            def wanted(r):
                return r["op"] == op and r["layout"] == layout and r["dtype"] == dtype
            cmds = []
            # Ceilings first so the measured lines draw over them.
            for t in ceilings:
                pts = sorted((r["tensor_bytes"], r["copy_gbps"]) for r in sweep if r["device"] == t and wanted(r)
                             and r.get("copy_gbps"))
                if pts:
                    cmds.append(series_block(blocks, "copy", t, i, j, pts) + " using 1:2 " + style[("copy", t)][0])
            for t in tags:
                pts = sorted((r["tensor_bytes"], r["gbps"]) for r in sweep if r["device"] == t and wanted(r))
                if pts:
                    cmds.append(series_block(blocks, "op", t, i, j, pts) + " using 1:2 " + style[("op", t)][0])
            panels.append((i, j, "%s, %s %s" % (op_title(op), layout.upper(), dtype), cmds))

    # Layout in pixels, turned into screen fractions for exact margins.
    ncol, nrow = len(cols), len(ops)
    key_cols = 3
    key_h = 24 * ((len(style) + key_cols - 1) // key_cols) + 16
    top_h, panel_w, panel_h, gap_w, gap_h, left = 100, 460, 300, 90, 80, 80
    width = left + ncol * panel_w + (ncol - 1) * gap_w + 30
    height = top_h + nrow * panel_h + (nrow - 1) * gap_h + 60 + key_h
    ys = [r["gbps"] for r in sweep] + [r["copy_gbps"] for r in sweep if r.get("copy_gbps")]
    xs = [r["tensor_bytes"] for r in sweep]
    ylo, yhi = 10 ** math.floor(math.log10(min(ys))), 10 ** math.ceil(math.log10(max(ys)))
    date = next((r.get("date") for r in runs if r.get("date")), "")
    suite_set = next((r.get("suite_set") for r in runs if r.get("suite_set")), "")
    title = ("vkbn-bench, %s suite (%s): effective throughput (bytes of x, y (dy, dx) per second) against tensor size\\n"
             "{/*0.85 higher is better; thick faint lines: each device's copy bandwidth at the same size, its ceiling}") % (
        suite_set, date[:10])
    script = ["reset", "set encoding utf8"] + blocks + [
        "set multiplot title \"%s\" font ',12'" % title,
        "set logscale x 2", "set logscale y 10", "set grid xtics ytics mytics lc rgb '#e4e4e4'", "unset key",
        "set format y '%g'", "set mytics 10",
        "set xrange [%g:%g]" % (min(xs) / 1.4, max(xs) * 1.4), "set yrange [%g:%g]" % (ylo, yhi),
        "set xtics (%s)" % ", ".join("'%s' %d" % (fmt_bytes(1 << k).replace(" ", "").replace("iB", ""), 1 << k)
                                     for k in range(12, 31, 2) if min(xs) / 1.4 <= (1 << k) <= max(xs) * 1.4),
    ]
    for i, j, panel_title, cmds in panels:
        x0 = left + j * (panel_w + gap_w)
        y0 = top_h + i * (panel_h + gap_h)  # from the top
        script += [
            "set lmargin at screen %.4f" % (x0 / width), "set rmargin at screen %.4f" % ((x0 + panel_w) / width),
            "set tmargin at screen %.4f" % (1 - y0 / height),
            "set bmargin at screen %.4f" % (1 - (y0 + panel_h) / height),
            "set title '%s' font ',11'" % panel_title,
            "set ylabel '%s'" % ("GB/s" if j == 0 else ""),
            "set xlabel '%s'" % ("tensor size (x alone)" if i == nrow - 1 else ""),
            "plot " + ", \\\n     ".join(cmds),
        ]
    # The legend: a plot of nothing, full width, under the panels.
    script += [
        "set lmargin at screen 0.02", "set rmargin at screen 0.98",
        "set tmargin at screen %.4f" % ((key_h + 8) / height), "set bmargin at screen %.4f" % (8 / height),
        "unset title", "unset xlabel", "unset ylabel", "unset border", "unset tics", "unset grid",
        "set key center center horizontal maxcols %d samplen 3 width 3 spacing 1.2 font ',11'" % key_cols,
        "plot " + ", ".join("NaN %s title '%s'" % (st, title_) for st, title_ in style.values()),
        "unset multiplot",
    ]
    gp = os.path.join(out_dir, "chart.gp")
    outputs = []
    for term, ext in (("svg size %d,%d dynamic font 'sans,11' background '#ffffff'" % (width, height), "svg"),
                      ("pngcairo size %d,%d font 'sans,10' background '#ffffff'" % (width, height), "png")):
        path = os.path.join(out_dir, "throughput.%s" % ext)
        with open(gp, "w") as f:
            f.write("set terminal %s\nset output '%s'\n" % (term, path))
            f.write("\n".join(script) + "\n")
        res = subprocess.run([gnuplot, gp], capture_output=True, text=True)
        if res.returncode != 0:
            return None, "gnuplot failed: %s" % res.stderr.strip()[:500]
        outputs.append(path)
    return outputs, None


def series_block(blocks, kind, tag, i, j, pts):
    """Adds a gnuplot datablock for one series of one panel; returns its name."""
    name = "$d%d_%d_%s_%s" % (i, j, kind, "".join(ch if ch.isalnum() else "_" for ch in tag))
    blocks.append("%s << EOD\n%s\nEOD" % (name, "\n".join("%d %.6g" % p for p in pts)))
    return name


def fade(hex_color, amount=0.7):
    r, g, b = (int(hex_color[k:k + 2], 16) for k in (1, 3, 5))
    r, g, b = (int(c + (255 - c) * amount) for c in (r, g, b))
    return "#%02x%02x%02x" % (r, g, b)


def op_title(op):
    return {"train": "forward training", "infer": "inference", "backward": "backward (training)",
            "backward_frozen": "backward (frozen statistics)"}.get(op, op.replace("_", " + "))


def write_json_lines(f, doc):
    """JSON with one list entry per line: readable, diffable, compact."""
    f.write("{\n")
    for n, (k, v) in enumerate(doc.items()):
        f.write("%s: " % json.dumps(k))
        if isinstance(v, list) and v:
            f.write("[\n%s\n]" % ",\n".join("  " + json.dumps(x, separators=(", ", ": ")) for x in v))
        else:
            f.write(json.dumps(v))
        f.write(",\n" if n + 1 < len(doc) else "\n")
    f.write("}\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="vkbn-bench's JSON first, then any peers' JSON")
    p.add_argument("--out-dir", required=True)
    args = p.parse_args()
    inputs = [i for i in args.inputs if os.path.exists(i)]
    runs, host, timing, devices, results, skipped, notes, caches = load(inputs)
    derive(results)
    os.makedirs(args.out_dir, exist_ok=True)

    merged = OrderedDict([("schema", "vkbn-bench/1"), ("tool", "report.py"), ("runs", runs), ("host", host),
                          ("timing", timing), ("devices", list(devices.values())), ("results", results),
                          ("skipped", skipped), ("pipeline_cache", caches), ("notes", notes)])
    results_path = os.path.join(args.out_dir, "results.json")
    with open(results_path, "w") as f:
        write_json_lines(f, merged)

    text = summary(devices, results, host)
    text += ("\n" if text else "") + cache_table(devices, caches)
    md_path = os.path.join(args.out_dir, "summary.md")
    with open(md_path, "w") as f:
        f.write("## vkbn-bench summary\n\n%s\n%s%s" % (text, legend_note(devices, timing, runs),
                                                     "".join("\nNote: %s\n" % n for n in notes)))
    charts, why = chart(devices, results, host, runs, args.out_dir)

    print("\n" + (text or "(no results)"))
    for n in notes:
        print("note: %s" % n)
    if why:
        print("chart: skipped, %s" % why)
    print("results: %s" % results_path)
    print("summary: %s" % md_path)
    for c in charts or []:
        print("chart:   %s" % c)
    return 0


if __name__ == "__main__":
    sys.exit(main())
