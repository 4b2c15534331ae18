#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/*): valid and
near-valid inputs that reach deep into each target at once. Run from the
repository root after changing a target's input format; the fuzzers' later
finds are added to the same directories."""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def npy(shape, descr="<f4", version=1, fortran=False, data=None, pad=True):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False",
        ", ".join("%d" % d for d in shape) if len(shape) != 1 else "%d," % shape[0])
    pre = 10 if version == 1 else 12
    if pad:
        header += " " * ((64 - (pre + len(header) + 1) % 64) % 64)
    header += "\n"
    out = b"\x93NUMPY" + bytes([version, 0])
    out += struct.pack("<H" if version == 1 else "<I", len(header)) + header.encode("latin1")
    count = 1
    for d in shape:
        count *= d
    if data is None:
        values = [((i * 7) % 11) * 0.25 - 1.0 for i in range(count)]
        if descr in ("<u2", "<i2"):  # bf16 bit patterns: the upper half of each f32
            data = b"".join(struct.pack("<f", v)[2:] for v in values)
        elif descr.endswith("2"):
            data = b"".join(struct.pack("<e", v) for v in values)
        else:
            data = b"".join(struct.pack("<f", v) for v in values)
    return out + data


def write(kind, name, data):
    with open(os.path.join(ROOT, kind, name), "wb") as f:
        f.write(data)


# ---- npy: the reader -------------------------------------------------------
write("npy", "f32_2x3x4", npy((2, 3, 4)))
write("npy", "f16_1x2x2x3", npy((1, 2, 2, 3), "<f2"))
write("npy", "v2_f32_3", npy((3,), version=2))
write("npy", "v3_f16_2x2", npy((2, 2), "<f2", version=3))
write("npy", "bf16_u2_2x3", npy((2, 3), "<u2"))
write("npy", "bf16_i2_3", npy((3,), "<i2"))
write("npy", "scalar", npy(()))
write("npy", "empty_0x5", npy((0, 5)))
write("npy", "fortran", npy((2, 2), fortran=True))
write("npy", "big_endian", npy((2,), ">f4", data=b"\0" * 8))
write("npy", "f64", npy((2,), "<f8", data=b"\0" * 16))
write("npy", "truncated", npy((4, 4))[:-5])
write("npy", "unpadded", npy((2, 3), pad=False))
write("npy", "huge_shape", npy((1 << 40, 1 << 30), data=b""))

# ---- cli: arguments, then files after "%%" lines ---------------------------
def cli(args, *files):
    out = "\n".join(args).encode() + b"\n%%\n"
    return out + b"\n%%\n".join(files)

x = npy((2, 3, 4))
xcl = npy((2, 4, 3))
vec3 = npy((3,))
write("cli", "run_train", cli(["run", "--mode", "train", "--x", "0", "--out", "o"], x))
write("cli", "run_train_affine_relu", cli(["run", "--x", "0", "--weight", "1", "--bias", "1", "--relu",
                                           "--running-mean", "1", "--running-var", "1", "--out", "o"], x, vec3))
write("cli", "run_infer_nhwc", cli(["run", "--mode", "infer", "--layout", "nhwc", "--x", "0",
                                    "--running-mean", "1", "--running-var", "1", "--out", "o"], xcl, vec3))
write("cli", "run_residual_clamp", cli(["run", "--x", "0", "--residual", "0", "--activation", "clamp",
                                        "--alpha", "0", "--beta", "6", "--out=o"], x))
write("cli", "run_f16", cli(["run", "--dtype", "f16", "--x", "0", "--out", "o", "--eps", "1e-3"],
                            npy((2, 3, 5), "<f2")))
write("cli", "run_bf16", cli(["run", "--dtype", "bf16", "--x", "0", "--residual", "1", "--relu", "--out", "o"],
                             npy((2, 3, 5), "<u2"), npy((2, 3, 5), "<i2")))
write("cli", "run_backward_bf16", cli(["run", "--mode", "backward", "--dtype", "bf16", "--x", "0", "--dy", "0",
                                       "--save-mean", "1", "--save-invstd", "1", "--out", "o"],
                                      npy((2, 3, 4), "<i2"), vec3))
write("cli", "run_backward", cli(["run", "--mode", "backward", "--x", "0", "--dy", "0", "--save-mean", "1",
                                  "--save-invstd", "1", "--out", "o"], x, vec3))
write("cli", "run_backward_frozen", cli(["run", "--mode", "backward", "--frozen", "--x", "0", "--dy", "0",
                                         "--running-mean", "1", "--running-var", "1", "--out", "o"], x, vec3))
write("cli", "run_cumulative", cli(["run", "--x", "0", "--running-mean", "1", "--running-var", "1",
                                    "--cumulative", "3", "--biased-running-var", "--out", "o"], x, vec3))
write("cli", "plan_h100_json", cli(["plan", "--profile", "h100", "--shape", "8x64x56x56", "--mode", "backward",
                                    "--layout", "nhwc", "--json"]))
write("cli", "plan_cpu_f16", cli(["plan", "--device", "cpu", "--shape", "2x3x5", "--dtype", "f16",
                                  "--activation", "clamp", "--alpha", "0", "--beta", "6"]))
write("cli", "plan_profiles", cli(["plan", "--profiles"]))
write("cli", "plan_bf16", cli(["plan", "--profile", "h100", "--shape", "32x64x56x56", "--dtype", "bf16"]))
write("cli", "run_help", cli(["run", "--help"]))

# ---- api: the reader's byte layout in fuzz_api.c ---------------------------
def api(sizes, views, seeds, op, n, c, rank, spatial, layout, dtype, act, rest):
    b = b""
    for size, (off, ln) in zip(sizes, views):
        b += struct.pack("<HHH", size - 1, off, ln)
    b += bytes(seeds)
    b += bytes([op, n, c, rank]) + bytes(spatial) + bytes([layout, dtype, act])
    b += bytes([2, 2])  # alpha 0, beta 0
    return b + bytes(rest)

BUF = [4096, 4096, 4096, 256, 256, 256]
VIEWS = [(0, 4096), (64, 2048), (0, 0), (0, 12), (16, 12), (32, 12)]
SEEDS = [1, 3, 5, 7, 9, 11]
NUL = 13  # pick(): 12 and 13 are NULL
# training: x y residual weight bias rm rv sm si scratch, eps, momentum,
# running_average, cumulative (u32), biased, split
train = [0, 1, NUL, 3, 4, 9, 10, 11, NUL, NUL, 0, 1, 0, 0, 0, 0, 0, 0, 0]
write("api", "train_nchw_f32", api(BUF, VIEWS, SEEDS, 0, 2, 3, 1, [5, 0, 0], 0, 0, 0, train))
write("api", "train_nhwc_f16_relu_split", api(BUF, VIEWS, SEEDS, 0, 3, 3, 2, [4, 3, 0], 1, 1, 1,
                                              [0, 1, 2, 3, 4, 9, 10, 11, 5, NUL, 0, 1, 1, 5, 0, 0, 0, 1, 3]))
# inference: x y residual weight bias rm rv, eps
write("api", "infer_nhwc_f32", api(BUF, VIEWS, SEEDS, 1, 2, 3, 3, [2, 2, 2], 1, 0, 3, [0, 1, NUL, 3, 4, 9, 10, 0]))
# backward: x dy y residual weight bias sm si, frozen, rm rv, eps, dx dw db dz, split, scratch
write("api", "backward_nchw_relu", api(BUF, VIEWS, SEEDS, 2, 2, 3, 1, [7, 0, 0], 0, 0, 1,
                                       [0, 1, 2, NUL, 3, NUL, 4, 5, 0, NUL, NUL, 0, 6, 9, 10, NUL, 0, NUL]))
write("api", "backward_frozen_nhwc", api(BUF, VIEWS, SEEDS, 2, 2, 3, 1, [7, 0, 0], 1, 0, 0,
                                         [0, 1, NUL, NUL, 3, NUL, NUL, NUL, 1, 4, 5, 0, 2, 9, 10, NUL, 0, NUL]))
# copy: src dst size
write("api", "copy", api(BUF, VIEWS, SEEDS, 3, 0, 0, 0, [0, 0, 0], 0, 0, 0, [0, 1, 64]))
