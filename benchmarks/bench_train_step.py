"""Time one training step of the lesson's MNIST models in minitorch and in PyTorch (CPU).

Usage:  python benchmarks/bench_train_step.py [--repeats 30] [--models A C]

A step is what ``Learner.fit`` does per batch: forward, cross-entropy loss, backward, SGD step
(momentum 0.9), zero the gradients — batch 128 of 1×28×28 float32 images.  Model A is the
lesson's basic CNN (five stride-2 convs with batchnorm and ReLU); model C its ResNet-ish model
(conv_layer + res_block four times, then conv_layer → 10).  Both frameworks start from the same
weights (copied from minitorch into torch) and train on the same batch; the first step's losses
are printed side by side as a check that they compute the same thing.

The two frameworks run interleaved (one minitorch step, one torch step, ...) so that the noise
of a shared machine hits both alike; the table gives the medians and the ratio minitorch / torch
(below 1: minitorch is faster).  Targets (issue 4): A ≤ 1.0×, C ≤ 1.5×.
"""
import argparse
import statistics
import time

import numpy as np
import torch

import minitorch
from minitorch import nn
from minitorch.nn import functional as F
from minitorch.optim import SGD
from minitorch.vision import Flatten, conv_layer, res_block

torch.set_num_threads(2)


# ---- the models, in minitorch (as the lesson writes them) and in torch (the same modules) --------
def minitorch_model(name):
    if name == "A":
        def conv(ni, nf):
            return nn.Conv2d(ni, nf, kernel_size=3, stride=2, padding=1)
        layers = []
        for ni, nf in [(1, 8), (8, 16), (16, 32), (32, 16)]:
            layers += [conv(ni, nf), nn.BatchNorm2d(nf), nn.ReLU()]
        return nn.Sequential(*layers, conv(16, 10), nn.BatchNorm2d(10), Flatten())

    def conv_and_res(ni, nf):
        return nn.Sequential(conv_layer(ni, nf, stride=2), res_block(nf))
    return nn.Sequential(conv_and_res(1, 8), conv_and_res(8, 16), conv_and_res(16, 32),
                         conv_and_res(32, 16), conv_layer(16, 10, stride=2), Flatten())


class TorchSequentialEx(torch.nn.Module):
    """fastai's SequentialEx in torch: every layer sees the block's input as ``x.orig``."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x):
        result = x
        for layer in self.layers:
            result.orig = x
            next_result = layer(result)
            result.orig = None
            result = next_result
        return result


class TorchMerge(torch.nn.Module):
    def forward(self, x):
        return x + x.orig


def torch_conv_layer(ni, nf, stride=1):
    return torch.nn.Sequential(torch.nn.Conv2d(ni, nf, 3, stride=stride, padding=1, bias=False),
                               torch.nn.ReLU(), torch.nn.BatchNorm2d(nf))


def torch_model(name):
    if name == "A":
        layers = []
        for ni, nf in [(1, 8), (8, 16), (16, 32), (32, 16)]:
            layers += [torch.nn.Conv2d(ni, nf, 3, stride=2, padding=1), torch.nn.BatchNorm2d(nf),
                       torch.nn.ReLU()]
        return torch.nn.Sequential(*layers, torch.nn.Conv2d(16, 10, 3, stride=2, padding=1),
                                   torch.nn.BatchNorm2d(10), torch.nn.Flatten())

    def conv_and_res(ni, nf):
        block = TorchSequentialEx(torch_conv_layer(nf, nf), torch_conv_layer(nf, nf), TorchMerge())
        return torch.nn.Sequential(torch_conv_layer(ni, nf, stride=2), block)
    return torch.nn.Sequential(conv_and_res(1, 8), conv_and_res(8, 16), conv_and_res(16, 32),
                               conv_and_res(32, 16), torch_conv_layer(16, 10, stride=2),
                               torch.nn.Flatten())


# ---- one step each -------------------------------------------------------------------------------
def minitorch_step(model, opt, x, y):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def torch_step(model, opt, x, y):
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def bench(name, repeats, batch_size=128):
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch_size, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, batch_size)
    minitorch.manual_seed(0)
    mt_model, t_model = minitorch_model(name), torch_model(name)
    t_model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in
                             mt_model.state_dict().items()})
    mt_opt = SGD(mt_model.parameters(), lr=0.01, momentum=0.9)
    t_opt = torch.optim.SGD(t_model.parameters(), lr=0.01, momentum=0.9)
    mt_x, mt_y = minitorch.tensor(images), minitorch.tensor(labels)
    t_x, t_y = torch.tensor(images), torch.tensor(labels)

    first = minitorch_step(mt_model, mt_opt, mt_x, mt_y), torch_step(t_model, t_opt, t_x, t_y)
    for _ in range(2):  # warm up: allocator, BLAS threads, caches
        minitorch_step(mt_model, mt_opt, mt_x, mt_y)
        torch_step(t_model, t_opt, t_x, t_y)
    mt_times, t_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        minitorch_step(mt_model, mt_opt, mt_x, mt_y)
        mt_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        torch_step(t_model, t_opt, t_x, t_y)
        t_times.append(time.perf_counter() - start)
    parameters = sum(p.numel() for p in mt_model.parameters())
    return parameters, first, statistics.median(mt_times), statistics.median(t_times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--models", nargs="+", default=["A", "C"], choices=["A", "C"])
    args = parser.parse_args()
    rows = []
    for name in args.models:
        parameters, (mt_loss, t_loss), mt, t = bench(name, args.repeats)
        print(f"model {name}: first-step loss minitorch {mt_loss:.6f}, torch {t_loss:.6f}")
        rows.append(f"| {name} | {parameters:,} | {mt * 1e3:.1f} | {t * 1e3:.1f} "
                    f"| {mt / t:.2f}× |")
    print(f"\nOne training step (forward + backward + SGD), batch 128, float32, "
          f"median of {args.repeats}; torch {torch.__version__} with 2 threads\n")
    print("| model | parameters | minitorch ms/step | torch ms/step | minitorch / torch |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
