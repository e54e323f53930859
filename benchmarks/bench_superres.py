"""Time the super-resolution lesson's models in minitorch and in PyTorch (CPU): VGG16's forward
and the lesson's whole training step (U-Net + feature loss).

Usage:  python benchmarks/bench_superres.py [--rounds 3] [--steps 5] [--cases vgg64 vgg128 step]
                                            [--torch-threads 2] [--blas-threads N]

Cases (float32, batch 8):

* ``vgg64``, ``vgg128`` — VGG16's ``features`` up to relu5_3 (``features[:30]``, what the
  feature loss runs) on 64×64 and 128×128 images, under ``no_grad``, with the real pretrained
  weights in both frameworks.
* ``step`` — one training step of the lesson's feature-loss U-Net at 64 px: the DynamicUnet on
  the small16 encoder with the residual head, forward; the feature loss (target through VGG16
  without a graph, prediction with one; pixel L1 + 3 feature L1s + 3 gram L1s); backward into
  the U-Net through the frozen VGG16; Adam step; zero the gradients.

The torch model is *translated* from the minitorch one (same modules, same child names, the
state dict copied across), so both run the same architecture from the same weights, and the
first step's losses are printed side by side as a check.  The translator, ``to_torch``, also
knows the modules of the super-resolution GAN (weight- and spectral-normed convs, LeakyReLU,
Dropout2d, self-attention, Flatten), for ``bench_superres_gan.py``.  Each framework runs in a process of
its own, alternating (``alternating.py``); the table gives the median over all
timed steps, the ratio minitorch / torch, and the lowest and highest ratio of one round.
Targets: within 1.3× of PyTorch for each case.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

# The torch twins of SequentialEx, MergeLayer, SelfAttention and VGG16 are the test suite's
# (tests/torch_twins*.py), imported from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import minitorch  # noqa: E402
from minitorch import nn  # noqa: E402
from minitorch.nn.utils import SpectralNorm, WeightNorm  # noqa: E402
from minitorch.optim import Adam  # noqa: E402
from minitorch.vision import NormType  # noqa: E402
from minitorch.vision.feature_loss import FeatureLoss  # noqa: E402
from minitorch.vision.layers import (  # noqa: E402
    Flatten, MergeLayer, PixelShuffle_ICNR, SelfAttention, SequentialEx)
from minitorch.vision.models import VGGInput, small_encoder, vgg16_features  # noqa: E402
from minitorch.vision.models.pretrained import load_vgg16_features_state  # noqa: E402
from minitorch.vision.models.unet import DynamicUnet, ResizeToInput, UnetBlock  # noqa: E402
from tests.torch_twins import TorchMerge, TorchSequentialEx  # noqa: E402
from tests.torch_twins_gan import TorchSelfAttention  # noqa: E402
from tests.torch_twins_vgg import torch_vgg16_features  # noqa: E402

from alternating import add_arguments, compare, print_table, report, time_steps  # noqa: E402

LAYER_IDS, WGTS = [15, 22, 29], [0.07, 0.25, 0.07]  # the lesson's layers and retuned weights
STATS = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def lesson_unet(size=64):
    """The lesson's U-Net (see lessons/lesson7_superres.py, ``make_learner``)."""
    return DynamicUnet(small_encoder(channels=(16, 32, 64, 128)), 3, (size, size),
                       norm_type=NormType.Batch, residual=True)


# ---- the same modules in torch -------------------------------------------------------------------
class TorchResizeToInput(torch.nn.Module):
    def forward(self, x):
        size = x.orig.shape[-2:]
        return x if x.shape[-2:] == size else torch.nn.functional.interpolate(x, size=size)


class TorchPixelShuffleICNR(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.conv, self.shuf, self.relu = to_torch(m.conv), to_torch(m.shuf), torch.nn.ReLU()
        self.pad, self.blur, self.do_blur = to_torch(m.pad), to_torch(m.blur), m.do_blur

    def forward(self, x):
        x = self.shuf(self.relu(self.conv(x)))
        return self.blur(self.pad(x)) if self.do_blur else x


class TorchUnetBlock(torch.nn.Module):
    """fastai's UnetBlock; ``self.stored`` is set by a forward hook on the encoder's child."""

    def __init__(self, m):
        super().__init__()
        self.shuf, self.bn = to_torch(m.shuf), to_torch(m.bn)
        self.conv1, self.conv2, self.relu = to_torch(m.conv1), to_torch(m.conv2), torch.nn.ReLU()
        self.store = {}

    def forward(self, up_in):
        s = self.store["out"]
        up_out = self.shuf(up_in)
        if s.shape[-2:] != up_out.shape[-2:]:
            up_out = torch.nn.functional.interpolate(up_out, size=s.shape[-2:])
        return self.conv2(self.conv1(self.relu(torch.cat([up_out, self.bn(s)], 1))))


def torch_conv(m):
    """A torch Conv2d like ``m``, with the same weight norm or spectral norm.  torch.nn.utils'
    hook-based versions (not the newer ``parametrizations``) are used because their parameter
    and buffer names are minitorch's: ``weight_g``, ``weight_v`` and ``weight_orig``,
    ``weight_u``, ``weight_v``; so the state dict copies across as it is."""
    conv = torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                           bias=m.bias is not None)
    for hook in m._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm):
            conv = torch.nn.utils.weight_norm(conv, hook.name, dim=hook.dim)
        elif isinstance(hook, SpectralNorm):
            conv = torch.nn.utils.spectral_norm(conv, hook.name, hook.n_power_iterations,
                                                hook.eps, hook.dim)
    return conv


def to_torch(m):
    """The torch module computing what the minitorch module ``m`` computes, same child names."""
    if isinstance(m, nn.Conv2d):
        return torch_conv(m)
    if isinstance(m, nn.BatchNorm2d):
        return torch.nn.BatchNorm2d(m.num_features, eps=m.eps, momentum=m.momentum)
    if isinstance(m, nn.ReLU):
        return torch.nn.ReLU()
    if isinstance(m, nn.LeakyReLU):
        return torch.nn.LeakyReLU(m.negative_slope)
    if isinstance(m, nn.Dropout2d):
        return torch.nn.Dropout2d(m.p)
    if isinstance(m, Flatten) and not m.full:
        return torch.nn.Flatten()
    if isinstance(m, nn.MaxPool2d):
        return torch.nn.MaxPool2d(m.kernel_size, m.stride)
    if isinstance(m, nn.AvgPool2d):
        return torch.nn.AvgPool2d(m.kernel_size, m.stride)
    if isinstance(m, nn.PixelShuffle):
        return torch.nn.PixelShuffle(m.upscale_factor)
    if isinstance(m, nn.ReplicationPad2d):
        return torch.nn.ReplicationPad2d(m.padding)
    if isinstance(m, MergeLayer):
        return TorchMerge(m.dense)
    if isinstance(m, ResizeToInput):
        return TorchResizeToInput()
    if isinstance(m, PixelShuffle_ICNR):
        return TorchPixelShuffleICNR(m)
    if isinstance(m, UnetBlock):
        return TorchUnetBlock(m)
    if isinstance(m, SelfAttention):  # its 1×1 convs are always spectral-normed, as the twin's
        return TorchSelfAttention(m.value.in_channels)
    if isinstance(m, SequentialEx):  # res_block and DynamicUnet
        return TorchSequentialEx(*[to_torch(c) for c in m.layers])
    if isinstance(m, nn.Sequential):
        return torch.nn.Sequential(*[to_torch(c) for c in m.children()])
    raise TypeError(f"to_torch: no torch twin for {type(m).__name__}")


def torch_unet(mt_unet):
    """The torch twin of a DynamicUnet: translated, the skip hooks placed on the same encoder
    children, the weights and buffers copied."""
    model = to_torch(mt_unet)
    encoder = model.layers[0]
    children = list(mt_unet[0].children())
    mt_blocks = [b for b in mt_unet.layers if isinstance(b, UnetBlock)]
    blocks = [b for b in model.layers if isinstance(b, TorchUnetBlock)]
    for mt_block, block in zip(mt_blocks, blocks):
        # the encoder child whose forward hooks hold this block's skip hook
        index = next(i for i, c in enumerate(children)
                     if mt_block.hook.hook.id in c._forward_hooks)

        def keep(module, inputs, output, store=block.store):
            store["out"] = output
        encoder[index].register_forward_hook(keep)
    model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mt_unet.state_dict().items()})
    return model


def torch_vgg(upto=30):
    """VGG16's pretrained ``features[:upto]`` in torch (the test suite's twin), frozen."""
    return torch_vgg16_features(upto, load_vgg16_features_state()).eval().requires_grad_(False)


class TorchFeatureLoss:
    """The notebook's feature loss in torch, the VGG input map in front (``wgts``: the layer
    weights, the retuned ones by default)."""

    def __init__(self, vgg, wgts=WGTS):
        self.vgg, self.wgts = vgg, wgts
        m, s = (torch.tensor(v).view(1, 3, 1, 1) for v in STATS)
        mean = torch.tensor([122.67892, 116.66877, 104.00699]).view(1, 3, 1, 1)
        self.scale, self.shift = s * 255, m * 255 - mean

    def feats(self, x):
        x, out = x * self.scale + self.shift, []
        for i, layer in enumerate(self.vgg):
            x = layer(x)
            if i in LAYER_IDS:
                out.append(x)
        return out

    def __call__(self, pred, target):
        def gram(x):
            n, c, h, w = x.shape
            x = x.view(n, c, -1)
            return x @ x.transpose(1, 2) / (c * h * w)
        l1 = torch.nn.functional.l1_loss
        with torch.no_grad():
            ft = self.feats(target)
        fp = self.feats(pred)
        loss = l1(pred, target)
        for a, b, w in zip(fp, ft, self.wgts):
            loss = loss + l1(a, b) * w + l1(gram(a), gram(b)) * w ** 2 * 5e3
        return loss


# ---- one process: one framework, one case ----------------------------------------------------------
def worker(framework, case, steps, torch_threads, batch_size=8):
    rng = np.random.default_rng(0)
    size = {"vgg64": 64, "vgg128": 128, "step": 64}[case]
    images = rng.standard_normal((batch_size, 3, size, size)).astype(np.float32)
    targets = rng.standard_normal((batch_size, 3, size, size)).astype(np.float32)
    if framework == "torch":
        torch.set_num_threads(torch_threads)
    if case.startswith("vgg"):
        if framework == "minitorch":
            vgg, x = vgg16_features(upto=30), minitorch.tensor(images * 50)

            def step():
                with minitorch.no_grad():
                    return float(vgg(x).mean().item())
        else:
            vgg, x = torch_vgg(), torch.tensor(images * 50)

            def step():
                with torch.no_grad():
                    return float(vgg(x).mean().item())
    else:
        minitorch.manual_seed(0)
        mt_unet = lesson_unet(size)
        if framework == "minitorch":
            model = mt_unet
            loss_func = FeatureLoss(vgg16_features(upto=30), LAYER_IDS, WGTS,
                                    input_map=VGGInput(STATS))
            opt = Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
            x, y = minitorch.tensor(images), minitorch.tensor(targets)
        else:
            model = torch_unet(mt_unet)
            loss_func = TorchFeatureLoss(torch_vgg())
            opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
            x, y = torch.tensor(images), torch.tensor(targets)

        def step():
            loss = loss_func(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss.item()
    report(time_steps(step, steps))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, rounds=3, steps=5)
    parser.add_argument("--cases", nargs="+", default=["vgg64", "vgg128", "step"],
                        choices=["vgg64", "vgg128", "step"])
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.case, args.steps, args.torch_threads)
        return
    rows = compare(__file__, args.cases, args)
    print_table(rows, "batch 8, float32", args)

if __name__ == "__main__":
    main()
