"""minitorch: a deep-learning framework written from scratch in NumPy (CuPy on the GPU).

Read the package in the order its data flows (README.md has the tour):

1. ``backend.py``   — NumPy or CuPy: the one file that knows the difference.
2. ``autograd.py``  — Function, the graph, backward and grad (``autograd_functional.py``: hvp).
3. ``tensor.py``    — Tensor and the functions that create tensors.
4. ``ops/``         — every op, one class each, forward beside backward.
5. ``gradcheck.py`` — checking a backward against finite differences.
6. ``nn/``, ``optim/`` — layers, losses, optimizers.
7. ``data/``, ``learner/``, ``vision/``, ``text/`` — the fastai-style training library.

``speed/`` holds what made it fast (a second reading); importing it first tells glibc's
allocator to keep freed memory for reuse (``speed/cpu.py``, ``keep_freed_memory``).
"""
from minitorch.speed import cpu as _cpu  # noqa: F401  (first: the allocator setting, see above)
from minitorch.backend import cuda_is_available, device, manual_seed  # noqa: F401
# tensor.py first: it imports autograd.py, and then ops/, which need both to be complete.
from minitorch.tensor import (  # noqa: F401
    Tensor, allclose, arange, as_tensor, bool_, empty, equal, eye, float16, float32, float64,
    from_numpy, full, full_like, get_default_dtype, int32, int64, is_tensor, linspace, numel,
    ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, uint8, zeros,
    zeros_like)
from minitorch.gradcheck import gradcheck, gradgradcheck  # noqa: F401
from minitorch.serialization import load, save  # noqa: F401
from minitorch.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from minitorch.ops import *  # noqa: F401,F403  (minitorch.exp, minitorch.cat, ...)
from minitorch.ops import abs, max, min, pow, sum  # noqa: F401  (shadow builtins, as torch does)
from minitorch.ops.reduce import norm  # noqa: F401  (by name: ops.norm is batch norm's module)
# torch.autograd.functional (hvp) is autograd_functional.py here; torch's path reaches it too.
from minitorch import autograd, autograd_functional

float = float32  # noqa: A001  (torch.float, torch.long, ... are dtype aliases)
double = float64
half = float16
long = int64
int = int32  # noqa: A001
bool = bool_  # noqa: A001
autograd.functional = autograd_functional  # minitorch.autograd.functional.hvp, as in torch

from minitorch.inference import inference_mode, is_inference_mode_enabled  # noqa: E402,F401
from minitorch import accelerator, cuda  # noqa: E402,F401  (asking for a GPU, torch's way)

# Last, as in torch: ``minitorch.nn`` and ``minitorch.optim`` after the core they build on, and
# ``minitorch.utils.data`` (datasets and loaders) after them.
from minitorch import nn, optim, utils  # noqa: E402,F401
# fastai's helpers (``defaults``, ``Path.ls``...): ``Path.ls`` exists once minitorch is imported.
from minitorch import core  # noqa: E402,F401
