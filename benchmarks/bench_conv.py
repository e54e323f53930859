"""Time forward + backward of conv2d, conv_transpose2d, max_pool2d and batch_norm against torch.

Usage:  python benchmarks/bench_conv.py [--repeats 30] [--dtype float32] [--only conv2d]
                                        [--threads 2] [--clock wall|process]

Shapes: the lesson's MNIST models at batch 128 (the basic CNN's five k3 s2 p1 convs and the
res-block's k3 s1 p1 convs), plus a larger ResNet-style layer (batch 32, 64×56×56, k3 s1 p1).
minitorch and torch (CPU, 2 threads) run the same call with the same data, interleaved, and the
medians are compared; "ratio" is minitorch time / torch time (below 1: minitorch is faster).

Input layout: torch gets (N, C, H, W)-contiguous tensors, its native layout.  minitorch gets
what it sees inside a network: the first conv layer reads the data loader's (N, C, H, W) batch;
every other activation is produced by a minitorch conv (then batchnorm, ReLU), which leave it
batch-innermost ((C, H, W, N) in memory, see ops/conv.py), and so does its upstream gradient.

Threads: ``--threads`` sets both torch's threads and NumPy's BLAS threads (default 2, the
machine's cores).  On a machine busy with other work, wall-clock times of multi-threaded code
swing wildly (threads spin while waiting for a core); ``--threads 1 --clock process`` times the
CPU seconds each single-threaded call uses, which other load hardly changes.

Peak memory: the largest amount of NumPy memory (tracemalloc) that one minitorch forward +
backward holds above its inputs; torch's allocator is invisible to tracemalloc.
"""
import argparse
import os
import statistics
import sys
import time
import tracemalloc


def _threads_argument():
    """--threads, read before NumPy loads: OpenBLAS fixes its thread count at import."""
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "2"


THREADS = int(_threads_argument())
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(THREADS)

import numpy as np  # noqa: E402  (after the thread settings above)
import torch  # noqa: E402

import minitorch  # noqa: E402
from minitorch.ops.conv import conv2d, conv_transpose2d  # noqa: E402
from minitorch.ops.norm import batch_norm  # noqa: E402
from minitorch.ops.pool import max_pool2d  # noqa: E402

torch.set_num_threads(THREADS)
rng = np.random.default_rng(0)


def activation(shape, dtype, batch_innermost):
    """Random (N, C, H, W) data, stored batch-innermost when asked (as minitorch's convs leave
    it) — same values either way."""
    data = rng.standard_normal(shape).astype(dtype)
    if batch_innermost:
        return np.ascontiguousarray(data.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    return data


def cases(dtype):
    """(op name, shape label, minitorch fn, torch fn, arrays, layouts) for every benchmark row."""
    rows = []
    # the basic CNN: five stride-2 convs 1→8→16→32→16→10, batch 128
    basic = [(1, 8, 28), (8, 16, 14), (16, 32, 7), (32, 16, 4), (16, 10, 2)]
    resblock = [(8, 8, 14), (16, 16, 7), (32, 32, 4)]
    convs = [(128, cin, cout, size, 2, cin != 1) for cin, cout, size in basic]
    convs += [(128, cin, cout, size, 1, True) for cin, cout, size in resblock]
    convs += [(32, 64, 64, 56, 1, True)]
    for n, cin, cout, size, stride, inner in convs:
        x = activation((n, cin, size, size), dtype, inner)
        w = (rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(9 * cin)).astype(dtype)
        b = rng.standard_normal(cout).astype(dtype)
        rows.append(("conv2d", f"{n}×{cin}×{size}² → {cout}, k3 s{stride} p1",
                     lambda x, w, b, s=stride: conv2d(x, w, b, s, 1),
                     lambda x, w, b, s=stride: torch.nn.functional.conv2d(x, w, b, s, 1),
                     [x, w, b], inner))
    # the decoder direction: k3 s2 p1 output_padding 1 doubles the size
    for n, cin, cout, size in [(128, 16, 8, 7), (128, 8, 4, 14), (32, 64, 64, 28)]:
        x = activation((n, cin, size, size), dtype, True)
        w = (rng.standard_normal((cin, cout, 3, 3)) / np.sqrt(9 * cin)).astype(dtype)
        b = rng.standard_normal(cout).astype(dtype)
        rows.append(("conv_transpose2d", f"{n}×{cin}×{size}² → {cout}, k3 s2 p1 op1",
                     lambda x, w, b: conv_transpose2d(x, w, b, 2, 1, 1),
                     lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, 2, 1, 1),
                     [x, w, b], True))
    for n, c, size, k, s, p in [(128, 8, 28, 2, 2, 0), (128, 16, 14, 2, 2, 0),
                                (128, 16, 14, 3, 2, 1), (32, 64, 56, 3, 2, 1)]:
        x = activation((n, c, size, size), dtype, True)
        rows.append(("max_pool2d", f"{n}×{c}×{size}², k{k} s{s} p{p}",
                     lambda x, k=k, s=s, p=p: max_pool2d(x, k, s, p),
                     lambda x, k=k, s=s, p=p: torch.nn.functional.max_pool2d(x, k, s, p),
                     [x], True))
    for n, c, size in [(128, 8, 14), (128, 16, 7), (128, 32, 4), (32, 64, 56)]:
        x = activation((n, c, size, size), dtype, True)
        w = rng.standard_normal(c).astype(dtype)
        b = rng.standard_normal(c).astype(dtype)
        rows.append(("batch_norm", f"{n}×{c}×{size}², training",
                     lambda x, w, b: batch_norm(x, minitorch.zeros(x.shape[1], dtype=x.dtype),
                                                minitorch.ones(x.shape[1], dtype=x.dtype), w, b,
                                                training=True),
                     lambda x, w, b: torch.nn.functional.batch_norm(
                         x, torch.zeros(x.shape[1], dtype=x.dtype),
                         torch.ones(x.shape[1], dtype=x.dtype), w, b, training=True),
                     [x, w, b], True))
    return rows


def minitorch_step(fn, arrays, upstream):
    inputs = [minitorch.from_numpy(a).requires_grad_() for a in arrays]
    out = fn(*inputs)
    out.backward(upstream)


def torch_step(fn, arrays, upstream):
    inputs = [torch.from_numpy(np.ascontiguousarray(a)).requires_grad_() for a in arrays]
    out = fn(*inputs)
    out.backward(upstream)


def peak_bytes(fn, arrays, upstream):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    minitorch_step(fn, arrays, upstream)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def run(repeats, dtype, only, clock):
    timer = time.process_time if clock == "process" else time.perf_counter
    print(f"minitorch vs torch {torch.__version__} (CPU, {THREADS} threads for both, "
          f"{'CPU' if clock == 'process' else 'wall-clock'} time), {np.dtype(dtype).name}, "
          f"forward + backward per call, median of {repeats} interleaved repeats\n")
    print("| op | shape | minitorch ms | torch ms | ratio | minitorch peak MiB |")
    print("|---|---|---|---|---|---|")
    for name, label, mt_fn, torch_fn, arrays, inner in cases(dtype):
        if only and name != only:
            continue
        with torch.no_grad():
            out_shape = torch_fn(*[torch.from_numpy(np.ascontiguousarray(a))
                                   for a in arrays]).shape
        g = rng.standard_normal(tuple(out_shape)).astype(dtype)
        torch_upstream = torch.from_numpy(g)
        # the upstream gradient arrives in the layout minitorch's next layer gives it
        mt_upstream = minitorch.from_numpy(
            np.ascontiguousarray(g.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2) if inner else g)
        mt_times, torch_times = [], []
        for step in range(repeats + 2):  # two warm-up rounds
            start = timer()
            minitorch_step(mt_fn, arrays, mt_upstream)
            middle = timer()
            torch_step(torch_fn, arrays, torch_upstream)
            end = timer()
            if step >= 2:
                mt_times.append(middle - start)
                torch_times.append(end - middle)
        mt_ms, torch_ms = statistics.median(mt_times) * 1e3, statistics.median(torch_times) * 1e3
        peak = peak_bytes(mt_fn, arrays, mt_upstream) / 2 ** 20
        print(f"| {name} | {label} | {mt_ms:.3f} | {torch_ms:.3f} | {mt_ms / torch_ms:.2f} | "
              f"{peak:.1f} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for torch and for NumPy's BLAS (read before import)")
    parser.add_argument("--clock", default="wall", choices=["wall", "process"],
                        help="wall-clock time, or the CPU time of this process")
    parser.add_argument("--only", default=None,
                        choices=["conv2d", "conv_transpose2d", "max_pool2d", "batch_norm"])
    args = parser.parse_args()
    if args.clock == "process" and args.threads != 1:
        parser.error("--clock process needs --threads 1 (CPU time adds up every thread's time)")
    run(args.repeats, np.dtype(args.dtype).type, args.only, args.clock)
