#!/usr/bin/env python3
"""The prediction of a device profile (vkbn-bench --predict PROFILE --json P)
beside what vkbn-bench measured on the GPU (its --json files): per case the
predicted and the measured efficiency (fraction of the copy bandwidth) and
seconds, and per suite the geometric means, as Markdown on stdout.

  compare_prediction.py PREDICT.json BENCH.json [BENCH.json ...]
"""
import json
import math
import sys


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        pred = json.load(f)
    predicted = {c["key"]: c for c in pred["cases"]}
    rows = []
    for path in argv[2:]:
        with open(path) as f:
            bench = json.load(f)
        for r in bench.get("results", []):
            if r.get("impl") != "vkbn" or r["key"] not in predicted:
                continue
            if not r.get("efficiency"):
                continue
            rows.append((r["suite"], r["key"], predicted[r["key"]], r))
    print(f"# Prediction ({pred['profile']}, {pred['dispatch_us_assumed']} us per dispatch assumed) against the GPU\n")
    if not rows:
        print("no case of the prediction was measured")
        return 1
    print("| case | predicted eff | measured eff | predicted us | measured us |")
    print("|---|---:|---:|---:|---:|")
    suites = {}
    for suite, key, p, r in rows:
        print(f"| {key} | {p['efficiency']:.3f} | {r['efficiency']:.3f} | {p['seconds'] * 1e6:.1f} | "
              f"{r['seconds'] * 1e6:.1f} |")
        s = suites.setdefault(suite, [0.0, 0.0, 0])
        s[0] += math.log(p["efficiency"])
        s[1] += math.log(r["efficiency"])
        s[2] += 1
    print("\n| suite | cases | predicted (geomean) | measured (geomean) |")
    print("|---|---:|---:|---:|")
    for suite, (lp, lm, n) in sorted(suites.items()):
        print(f"| {suite} | {n} | {math.exp(lp / n):.3f} | {math.exp(lm / n):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
