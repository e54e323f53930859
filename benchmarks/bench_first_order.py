"""Does the autograd engine's support for gradients of gradients slow the lesson's training steps?

Usage:  python benchmarks/bench_first_order.py --before REF [--after REF] [--rounds 5]
                                               [--steps 20] [--cases mnist-A ...]
                                               [--blas-threads N] [--clock wall|process]

The same training steps, timed with minitorch as it was at git commit ``--before`` and as it is
in this checkout (or at ``--after``): each version is extracted (``git archive``) into a
temporary folder and imported from there, in a process of its own, and the two alternate round
after round, so that a slow spell of a shared machine hits both.  Every step is a plain
first-order one (``create_graph`` is never used): the question is what the engine's new
bookkeeping costs when it is not used.  The cases are the lessons' steps:

* ``mnist-A`` / ``mnist-C``: forward, cross-entropy, backward and an SGD step (momentum 0.9) of
  the ResNet-MNIST lesson's basic CNN and its ResNet-ish model, batch 128 (``bench_train_step.py``);
* ``wgan-critic`` / ``wgan-generator``: the WGAN lesson's critic and generator steps, batch 64
  (``bench_gan.py``);
* ``gru``: forward + backward of the human-numbers lesson's 2-layer GRU, sequence 70, batch 64,
  hidden 64 (``bench_rnn.py``).

Both versions start from the same seed, so the first step's loss must be the same number in
both (it is printed beside the times).  The table gives, per case, the median over all timed
steps of each version, the ratio after / before, and the lowest and highest ratio of one round.
``--clock process`` times CPU seconds instead of wall time (for a busy machine; use it with
``--blas-threads 1``).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ("mnist-A", "mnist-C", "wgan-critic", "wgan-generator", "gru")
VERSIONS = ("before", "after")


def make_step(case):
    """A function running one training step of ``case``, returning its loss as a float."""
    import numpy as np

    import minitorch
    if case.startswith("mnist-"):
        from bench_train_step import minitorch_model, minitorch_step
        from minitorch.optim import SGD
        rng = np.random.default_rng(0)
        x = minitorch.tensor(rng.standard_normal((128, 1, 28, 28)).astype(np.float32))
        y = minitorch.tensor(rng.integers(0, 10, 128))
        minitorch.manual_seed(0)
        model = minitorch_model(case[-1])
        opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
        return lambda: minitorch_step(model, opt, x, y)
    if case.startswith("wgan-"):
        from bench_gan import BETAS, CLIP, LR
        from gan_step import minitorch_gan_step
        from minitorch.optim import Adam
        from minitorch.vision.gan import GANLoss, GANModule, NoopLoss, WassersteinLoss
        from minitorch.vision.models import basic_critic, basic_generator
        rng = np.random.default_rng(0)
        real = minitorch.tensor(rng.uniform(-1, 1, (64, 1, 32, 32)).astype(np.float32))
        noise = minitorch.tensor(rng.standard_normal((64, 100, 1, 1)).astype(np.float32))
        minitorch.manual_seed(0)
        gan = GANModule(basic_generator(32, 1, n_features=32), basic_critic(32, 1, n_features=32))
        loss_func = GANLoss(NoopLoss(), WassersteinLoss(), gan)
        gen_mode = case == "wgan-generator"
        opt = Adam((gan.generator if gen_mode else gan.critic).parameters(), lr=LR, betas=BETAS)
        return lambda: minitorch_gan_step(gan, loss_func, opt, gen_mode, noise, real, clip=CLIP)
    if case == "gru":
        rng = np.random.default_rng(0)
        minitorch.manual_seed(0)
        model = minitorch.nn.GRU(64, 64, 2)
        x = minitorch.tensor(rng.standard_normal((70, 64, 64)).astype(np.float32))

        def step():
            output, _ = model(x)
            loss = output.sum()
            loss.backward()
            return loss.item()
        return step
    raise ValueError(f"unknown case {case!r}; the cases are {CASES}")


def worker(case, steps, clock):
    import minitorch  # first: from this version's folder (PYTHONPATH), before any other import
    sys.path.insert(1, str(ROOT / "benchmarks"))  # the step builders of the other benchmarks
    step = make_step(case)
    now = time.process_time if clock == "process" else time.perf_counter
    first = step()
    for _ in range(3):  # warm up: allocator, BLAS threads, caches
        step()
    times = []
    for _ in range(steps):
        start = now()
        step()
        times.append(now() - start)
    print(json.dumps({"first": first, "times": times, "minitorch": minitorch.__file__}))


def extract(ref, folder):
    """The ``minitorch`` package as it was at git ``ref``, written under ``folder``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "minitorch"],
                             capture_output=True, check=True).stdout
    path = Path(folder) / "archive.tar"
    path.write_bytes(archive)
    with tarfile.open(path) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run(source, case, args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([source, str(ROOT)]))
    if args.blas_threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(args.blas_threads)
    command = [sys.executable, __file__, "--worker", "--cases", case, "--steps", str(args.steps),
               "--clock", args.clock]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=source)
    if result.returncode != 0:
        raise RuntimeError(f"{case} from {source} failed:\n{result.stderr[-3000:]}")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    if not found["minitorch"].startswith(source):
        raise RuntimeError(f"the worker imported {found['minitorch']}, not the one in {source}")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the git commit (or branch) to compare against")
    parser.add_argument("--after", help="a git commit; default: this checkout as it is")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per process")
    parser.add_argument("--blas-threads", type=int, default=None)
    parser.add_argument("--clock", choices=["wall", "process"], default="wall")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.cases[0], args.steps, args.clock)
        return
    if not args.before:
        parser.error("--before REF is required (e.g. the main commit before the change)")
    with tempfile.TemporaryDirectory() as before_dir, tempfile.TemporaryDirectory() as after_dir:
        sources = {"before": extract(args.before, before_dir),
                   "after": extract(args.after, after_dir) if args.after else str(ROOT)}
        rows = []
        for case in args.cases:
            times, firsts, ratios = {v: [] for v in VERSIONS}, {}, []
            for _ in range(args.rounds):
                medians = {}
                for version in VERSIONS:
                    found = run(sources[version], case, args)
                    times[version] += found["times"]
                    firsts[version] = found["first"]
                    medians[version] = statistics.median(found["times"])
                ratios.append(medians["after"] / medians["before"])
            before, after = (statistics.median(times[v]) for v in VERSIONS)
            same = "same" if firsts["before"] == firsts["after"] else "DIFFERENT"
            print(f"{case}: first loss before {firsts['before']!r}, after {firsts['after']!r} "
                  f"({same})", flush=True)
            rows.append(f"| {case} | {before * 1e3:.2f} | {after * 1e3:.2f} | "
                        f"{after / before:.3f} | {min(ratios):.3f}–{max(ratios):.3f} |")
    print(f"\nFirst-order training steps, minitorch at {args.before} (before) and at "
          f"{args.after or 'this checkout'} (after); median of {args.rounds} × {args.steps} steps "
          f"per version, each in its own process, alternating; {args.clock} clock, "
          f"{args.blas_threads or 'the default number of'} BLAS thread(s)\n")
    print("| case | before ms | after ms | after / before | one round's ratio, lowest–highest |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
