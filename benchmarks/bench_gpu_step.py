"""One training step on the GPU: minitorch on CuPy against PyTorch's CUDA eager step.

Read after ``bench_train_step.py`` (the CPU twin, whose model builders this one reuses).  Models
A and C of the ResNet-MNIST lesson (batch 128 of 28×28) and the 2-layer GRU of the
human-numbers lesson (embedding 40→64, GRU 64, 2 layers, linear 64→40; batch 64 × 20 tokens).
Each step is forward, cross-entropy, backward, SGD with momentum, and reading the loss (one
sync, as the Learner does), so the time includes waiting for the GPU.  Both frameworks start
from the same weights and train on the same batch; torch keeps its defaults (cuDNN may use TF32).

    PYTHONPATH=. python benchmarks/bench_gpu_step.py --steps 30

Without a GPU (the CuPy stand-in, ``PYTHONPATH=tests/fake_cupy:.``) it runs as a dry run: torch
on its CPU, minitorch on NumPy through the stand-in; the times then mean nothing.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import minitorch  # noqa: E402
from minitorch import nn  # noqa: E402
from minitorch.nn import functional as F  # noqa: E402
from minitorch.optim import SGD  # noqa: E402
from bench_train_step import minitorch_model, torch_model  # noqa: E402

TORCH_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


class GRUModel(nn.Module):
    def __init__(self, nv=40, nh=64):
        super().__init__()
        self.i_h, self.rnn, self.h_o = nn.Embedding(nv, nh), nn.GRU(nh, nh, 2, batch_first=True), \
            nn.Linear(nh, nv)

    def forward(self, x):
        return self.h_o(self.rnn(self.i_h(x))[0]).reshape(-1, 40)


class TorchGRUModel(torch.nn.Module):
    def __init__(self, nv=40, nh=64):
        super().__init__()
        self.i_h, self.rnn = torch.nn.Embedding(nv, nh), torch.nn.GRU(nh, nh, 2, batch_first=True)
        self.h_o = torch.nn.Linear(nh, nv)

    def forward(self, x):
        return self.h_o(self.rnn(self.i_h(x))[0]).reshape(-1, 40)


def batch(name):
    rng = np.random.default_rng(0)
    if name == "GRU":
        return rng.integers(0, 40, (64, 20)), rng.integers(0, 40, 64 * 20)
    return rng.standard_normal((128, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 128)


def sync():
    if TORCH_DEVICE == "cuda":
        torch.cuda.synchronize()


def time_steps(step, steps):
    for _ in range(3):  # warm up: kernel compilation, allocator pools, cuDNN's algorithm search
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()  # ends with reading the loss: the GPU has finished
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(name, steps):
    minitorch.manual_seed(0)
    mt_model = (GRUModel() if name == "GRU" else minitorch_model(name)).to("cuda")
    t_model = (TorchGRUModel() if name == "GRU" else torch_model(name))
    t_model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mt_model.state_dict().items()})
    t_model = t_model.to(TORCH_DEVICE)
    x, y = batch(name)
    mx, my = minitorch.tensor(x, device="cuda"), minitorch.tensor(y, device="cuda")
    tx, ty = torch.tensor(x, device=TORCH_DEVICE), torch.tensor(y, device=TORCH_DEVICE)
    m_opt = SGD(mt_model.parameters(), lr=0.01, momentum=0.9)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.01, momentum=0.9)

    def mt_step():
        loss = F.cross_entropy(mt_model(mx), my)
        m_opt.zero_grad()
        loss.backward()
        m_opt.step()
        return loss.item()

    def torch_step():
        loss = torch.nn.functional.cross_entropy(t_model(tx), ty)
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()
        value = loss.item()
        sync()
        return value

    first = (mt_step(), torch_step())
    mt, tt = time_steps(mt_step, steps), time_steps(torch_step, steps)
    print(f"{name:>3}: first loss minitorch {first[0]:.5f} torch {first[1]:.5f} | step "
          f"minitorch {mt * 1e3:8.2f} ms  torch ({TORCH_DEVICE}) {tt * 1e3:8.2f} ms  "
          f"ratio {mt / tt:5.2f}×", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per framework")
    parser.add_argument("--models", nargs="+", default=["A", "C", "GRU"],
                        choices=["A", "B", "C", "GRU"])
    args = parser.parse_args()
    if not minitorch.cuda_is_available():
        sys.exit("bench_gpu_step: minitorch sees no GPU (CuPy, or the stand-in on PYTHONPATH)")
    import cupy  # here, once minitorch has found it: CuPy is optional (the 'gpu' extra)
    print(f"cupy {cupy.__version__}, torch {torch.__version__} on {TORCH_DEVICE}"
          + (" (the CuPy stand-in: a dry run)" if hasattr(cupy, "_stand_in") else ""))
    for name in args.models:
        run(name, args.steps)


if __name__ == "__main__":
    main()
