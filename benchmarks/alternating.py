"""Timing minitorch against PyTorch on one machine, fairly: the scaffolding of the benchmarks
that time whole steps (``bench_gan.py``, ``bench_superres.py``, ``bench_superres_gan.py``).

Each framework runs in a process of its own (so neither inherits the other's allocator state,
thread pools or warm caches; ``bench_train_step.py`` shows why it matters), and the processes
alternate, round after round, so that a slow spell of a shared machine hits both.  A worker
process builds its case, runs the step once (its value, a loss, is printed beside the other
framework's as a check that both compute the same thing), warms up, times ``--steps`` calls
and prints the times as JSON on its last line; the parent collects them.  The table gives, per
case, the median over all timed steps of each framework, the ratio minitorch / torch, and the
lowest and highest ratio of one round's medians (the spread the machine's noise allows).

A script using it: ``add_arguments(parser)``; in ``main``, when ``args.worker`` is set, build
the step and call ``report(time_steps(step, args.steps))``; else
``rows = compare(__file__, cases, args)`` and ``print_table(rows, ...)``.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

FRAMEWORKS = ("minitorch", "torch")


def add_arguments(parser, rounds=3, steps=5):
    """The options every alternating benchmark has; the worker options are hidden."""
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--steps", type=int, default=steps, help="timed steps per process")
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="minitorch's OpenBLAS threads (default: OpenBLAS's own choice)")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)


def time_steps(step, steps, warmup=1):
    """``{'first': step(), 'times': [seconds of each of ``steps`` timed calls]}``, after
    ``warmup`` untimed calls (allocator, BLAS threads, caches)."""
    first = step()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"first": first, "times": times}


def report(result):
    """The worker's last line, which the parent reads."""
    print(json.dumps(result))


def run_worker(script, framework, case, args, extra=()):
    """Run ``script`` as a worker for one framework and case; returns its ``time_steps`` dict."""
    command = [sys.executable, script, "--worker", framework, "--case", case,
               "--steps", str(args.steps), "--torch-threads", str(args.torch_threads), *extra]
    env = dict(os.environ)
    if framework == "minitorch" and args.blas_threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(args.blas_threads)
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{framework} {case} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare(script, cases, args, extra=()):
    """For each case, ``args.rounds`` rounds of a minitorch worker then a torch worker.  Returns
    one dict per case: the medians (seconds), their ratio, the lowest and highest ratio of one
    round, and each framework's first value."""
    rows = []
    for case in cases:
        times, first, ratios = {f: [] for f in FRAMEWORKS}, {}, []
        for _ in range(args.rounds):
            medians = {}
            for framework in FRAMEWORKS:
                result = run_worker(script, framework, case, args, extra)
                times[framework] += result["times"]
                first[framework] = result["first"]
                medians[framework] = statistics.median(result["times"])
            ratios.append(medians["minitorch"] / medians["torch"])
        mt, t = statistics.median(times["minitorch"]), statistics.median(times["torch"])
        print(f"{case}: first value minitorch {first['minitorch']:.6f}, torch "
              f"{first['torch']:.6f}", flush=True)
        rows.append({"case": case, "minitorch": mt, "torch": t, "ratio": mt / t,
                     "lowest": min(ratios), "highest": max(ratios), "first": first})
    return rows


def print_table(rows, what, args, first_column="case", ms_decimals=0):
    """The setting in a sentence (``what``: models, sizes, batch), then the markdown table."""
    print(f"\n{what}; median of {args.rounds} × {args.steps} steps per framework, each in its "
          f"own process, alternating; torch {torch.__version__} with {args.torch_threads} "
          f"thread(s), minitorch with {args.blas_threads or 'the default number of'} BLAS "
          f"thread(s)\n")
    print(f"| {first_column} | minitorch ms | torch ms | minitorch / torch "
          "| one round's ratio, lowest–highest |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['case']} | {row['minitorch'] * 1e3:.{ms_decimals}f} | "
              f"{row['torch'] * 1e3:.{ms_decimals}f} | {row['ratio']:.2f}× | "
              f"{row['lowest']:.2f}–{row['highest']:.2f}× |")
