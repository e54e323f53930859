"""The lesson's MNIST models and training recipe written in plain PyTorch: the references that
``tests/test_training_vs_torch.py`` holds minitorch to, and that the benchmarks
(``benchmarks/bench_train_step.py``, ``benchmarks/recipe_in_torch.py``) time and train.

Read after ``minitorch/vision/models/mnist.py`` (the same models in minitorch) and
the notebook ``lesson7-resnet-mnist`` (the recipe).

* ``TorchSequentialEx`` and ``TorchMerge`` — fastai's ``SequentialEx`` and ``MergeLayer`` (the
  residual and dense blocks, the U-Net's skips) in torch: the one home of these twins, which
  ``tests/test_unet.py`` and ``benchmarks/bench_superres.py`` use too; and
  ``torch_colour_gated_merge``, the U-Net's ``keep_grey`` head;
* ``torch_model(name)`` — model A, B or C from torch's own modules, with minitorch's parameter
  names, so ``torch_model(n).load_state_dict(minitorch_model.state_dict())`` works.
* ``fit_one_cycle_torch`` — fastai v1's recipe in a plain loop: ``torch.optim.Adam`` with betas
  (mom, 0.99), true weight decay ``p ← p·(1 − lr·wd)`` before each step (batchnorm included),
  and the one-cycle formulas written out again (not taken from minitorch).

``randomize_batchnorm_state(twin)`` gives a twin's batchnorms the made-up statistics and
affine parameters of a trained net (their defaults, 1 and 0, would hide a mixed-up formula).

The other twins are beside this file: ``torch_twins_gan.py`` (the GAN models and one GAN step),
``torch_twins_vgg.py`` (VGG16), ``torch_twins_papers.py`` (He et al.'s CIFAR nets, Li et al.'s
filter normalisation and Hessian-vector product).  They live in ``tests/`` because they are
references for correctness first; the benchmark scripts add the repository's root to
``sys.path`` to import them (nothing imports from ``benchmarks/``).
"""
import math

import torch

WD, MOMS, BETA2, DIV_FACTOR, PCT_START = 1e-2, (0.95, 0.85), 0.99, 25.0, 0.3


def randomize_batchnorm_state(twin):
    """Every BatchNorm2d of ``twin`` with weights, biases and running statistics drawn from
    torch's generator (seed it) in ranges a trained net has; returns ``twin``."""
    with torch.no_grad():
        for m in twin.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return twin


# ---- fastai's SequentialEx and MergeLayer --------------------------------------------------------
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
    """fastai's MergeLayer: ``x + x.orig``, or ``cat([x, x.orig])`` along the channels when
    ``dense``."""

    def __init__(self, dense=False):
        super().__init__()
        self.dense = dense

    def forward(self, x):
        return torch.cat([x, x.orig], 1) if self.dense else x + x.orig


def torch_colour_gated_merge(x, orig, stats, tau, kernel=1):
    """minitorch's ColourGatedMerge (``DynamicUnet(keep_grey=stats)``) written again from its
    docstring: ``orig`` + the correction ``x``, the correction's colour scaled by
    min(1, the input's colour / tau).  ``kernel`` > 1 (an experiment of
    ``benchmarks/superres_in_torch.py``, not minitorch's): the colour's max over that window."""
    mean, std = (torch.tensor(v, dtype=x.dtype).view(1, 3, 1, 1) for v in stats)
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
    pixels, change = orig * std + mean, x * std
    brightness = (change * luma).sum(1, keepdim=True)
    colour = (pixels - (pixels * luma).sum(1, keepdim=True)).abs().amax(1, keepdim=True)
    if kernel > 1:
        colour = torch.nn.functional.max_pool2d(colour, kernel, 1, kernel // 2)
    gate = (colour / tau).clamp(max=1)
    return (pixels + brightness + (change - brightness) * gate - mean) / std


# ---- the lesson's models -------------------------------------------------------------------------


def torch_conv_layer(ni, nf, stride=1):
    """fastai's conv_layer: conv without bias, kaiming-normal init → ReLU → batchnorm."""
    conv = torch.nn.Conv2d(ni, nf, 3, stride=stride, padding=1, bias=False)
    torch.nn.init.kaiming_normal_(conv.weight)
    return torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.BatchNorm2d(nf))


def torch_model(name):
    """The lesson's model ``name`` ('A', 'B' or 'C') as torch modules."""
    if name == "A":
        layers = []
        for ni, nf in [(1, 8), (8, 16), (16, 32), (32, 16)]:
            layers += [torch.nn.Conv2d(ni, nf, 3, stride=2, padding=1), torch.nn.BatchNorm2d(nf),
                       torch.nn.ReLU()]
        return torch.nn.Sequential(*layers, torch.nn.Conv2d(16, 10, 3, stride=2, padding=1),
                                   torch.nn.BatchNorm2d(10), torch.nn.Flatten())
    if name == "B":
        return torch.nn.Sequential(*[torch_conv_layer(ni, nf, stride=2) for ni, nf in
                                     [(1, 8), (8, 16), (16, 32), (32, 16), (16, 10)]],
                                   torch.nn.Flatten())
    if name != "C":
        raise ValueError(f"torch_model: the lesson's models are 'A', 'B' and 'C', got {name!r}")

    def conv_and_res(ni, nf):
        block = TorchSequentialEx(torch_conv_layer(nf, nf), torch_conv_layer(nf, nf), TorchMerge())
        return torch.nn.Sequential(torch_conv_layer(ni, nf, stride=2), block)
    return torch.nn.Sequential(conv_and_res(1, 8), conv_and_res(8, 16), conv_and_res(16, 32),
                               conv_and_res(32, 16), torch_conv_layer(16, 10, stride=2),
                               torch.nn.Flatten())


# ---- the recipe ----------------------------------------------------------------------------------
def one_cycle(n_steps, max_lr, pct_start=PCT_START):
    """(lr, beta1) for each of ``n_steps`` batches."""
    def cos(start, end, pct):
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    warm, low = int(n_steps * pct_start), max_lr / DIV_FACTOR
    for i in range(n_steps):
        if i < warm:
            yield cos(low, max_lr, i / warm), cos(MOMS[0], MOMS[1], i / warm)
        else:
            pct = (i - warm) / (n_steps - warm)
            yield cos(max_lr, low / 1e4, pct), cos(MOMS[1], MOMS[0], pct)


def fit_one_cycle_torch(model, batches, n_steps, max_lr):
    """Train ``model`` on ``n_steps`` batches ((images, labels) NumPy arrays) with Adam, true
    weight decay and one cycle up to ``max_lr``, as fastai v1 does; returns each step's loss."""
    opt = torch.optim.Adam(model.parameters(), lr=0.0, betas=(MOMS[0], BETA2), eps=1e-8)
    model.train()
    losses = []
    for (xb, yb), (lr, beta1) in zip(batches, one_cycle(n_steps, max_lr)):
        for group in opt.param_groups:
            group["lr"], group["betas"] = lr, (beta1, BETA2)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(xb)),
                                                 torch.from_numpy(yb))
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():  # decoupled decay, batchnorm included
                p.mul_(1 - lr * WD)
        opt.step()
        losses.append(loss.item())
    return losses
