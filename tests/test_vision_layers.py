"""fastai v1's vision layers: structure, shapes, and the math against hand-written PyTorch.

conv_layer's order (conv → activation → batchnorm) and its options; res_block as
``x + branch(x)`` or ``cat([branch(x), x])``; MergeLayer and SequentialEx; the ICNR property of
PixelShuffle_ICNR (each group of scale² output channels shares one kernel, so the first
upsampling is nearest-neighbour); SelfAttention against fastai's torch code with copied weights.
"""
import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.vision import (
    Flatten, MergeLayer, NormType, PixelShuffle_ICNR, SelfAttention, SequentialEx, SigmoidRange,
    conv_layer, icnr, res_block)
from torch_compare import assert_close, check
from torch_twins_gan import TorchSelfAttention


def layer_types(seq):
    return [type(m).__name__ for m in seq]


# ---- conv_layer -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,types,bias", [
    (dict(), ["Conv2d", "ReLU", "BatchNorm2d"], False),
    (dict(norm_type=None), ["Conv2d", "ReLU"], True),
    (dict(use_activ=False), ["Conv2d", "BatchNorm2d"], False),
    (dict(leaky=0.2), ["Conv2d", "LeakyReLU", "BatchNorm2d"], False),
    (dict(norm_type=NormType.Weight), ["Conv2d", "ReLU"], True),
    (dict(norm_type=NormType.Spectral), ["Conv2d", "ReLU"], True),
    (dict(self_attention=True), ["Conv2d", "ReLU", "BatchNorm2d", "SelfAttention"], False),
    (dict(bias=True), ["Conv2d", "ReLU", "BatchNorm2d"], True),
])
def test_conv_layer_structure(kwargs, types, bias):
    layer = conv_layer(8, 16, **kwargs)
    assert layer_types(layer) == types
    assert (layer[0].bias is not None) == bias
    assert layer[0].padding == (1, 1) and layer[0].kernel_size == (3, 3)
    out = layer(minitorch.randn(2, 8, 9, 9))
    assert tuple(out.shape) == (2, 16, 9, 9)


def test_conv_layer_options():
    assert conv_layer(4, 4, leaky=0.2)[1].negative_slope == 0.2
    assert "weight_g" in dict(conv_layer(4, 4, norm_type=NormType.Weight)[0].named_parameters())
    assert "weight_orig" in dict(conv_layer(4, 4, norm_type=NormType.Spectral)[0].named_parameters())
    zero = conv_layer(4, 4, norm_type=NormType.BatchZero)[2]
    assert (zero.weight.detach().numpy() == 0).all()
    transposed = conv_layer(4, 2, ks=2, stride=2, transpose=True)
    assert type(transposed[0]).__name__ == "ConvTranspose2d" and transposed[0].padding == (0, 0)
    assert tuple(transposed(minitorch.randn(1, 4, 5, 5)).shape) == (1, 2, 10, 10)
    assert tuple(conv_layer(1, 8, stride=2)(minitorch.randn(2, 1, 28, 28)).shape) == (2, 8, 14, 14)
    with pytest.raises(ValueError, match="norm_type"):
        conv_layer(4, 4, norm_type="batch")
    with pytest.raises(ValueError, match="Conv1d"):
        conv_layer(4, 4, is_1d=True)


def test_conv_layer_kaiming_init():
    # kaiming normal, fan_in = 64 · 9: std sqrt(2 / 576)
    weight = conv_layer(64, 64)[0].weight.detach().numpy()
    assert weight.std() == pytest.approx(np.sqrt(2 / 576), rel=0.05)


def test_conv_layer_matches_torch_conv_relu_batchnorm():
    layer = conv_layer(3, 6, stride=2)
    tconv = torch.nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=False).double()
    tbn = torch.nn.BatchNorm2d(6).double()
    layer.double()
    with torch.no_grad():
        tconv.weight.copy_(torch.tensor(layer[0].weight.detach().numpy()))
        tbn.weight.copy_(torch.tensor(np.linspace(0.5, 1.5, 6)))
        tbn.bias.copy_(torch.tensor(np.linspace(-0.2, 0.2, 6)))
    with minitorch.no_grad():
        layer[2].weight.copy_(tbn.weight.detach().numpy())
        layer[2].bias.copy_(tbn.bias.detach().numpy())
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8))
    check(layer, lambda t: tbn(torch.relu(tconv(t))), [x],
          params=[("conv.weight", layer[0].weight, tconv.weight),
                  ("bn.weight", layer[2].weight, tbn.weight)])


# ---- res_block, SequentialEx, MergeLayer ---------------------------------------------------------------------
def test_res_block_adds_its_input():
    block = res_block(8)
    assert layer_types(block.layers) == ["Sequential", "Sequential", "MergeLayer"]
    x = minitorch.randn(2, 8, 6, 6)
    out = block(x)
    branch = block[1](block[0](x))
    assert_close(out, (branch + x).detach(), rtol=1e-6, atol=1e-6)
    assert x.orig is None, "SequentialEx must not leave the reference behind"
    assert sum(p.numel() for p in block.parameters()) == 2 * (8 * 8 * 9 + 16)


def test_dense_res_block_concatenates_and_doubles_the_channels():
    block = res_block(8, dense=True)
    x = minitorch.randn(2, 8, 6, 6)
    out = block(x)
    assert tuple(out.shape) == (2, 16, 6, 6)
    branch = block[1](block[0](x))
    assert_close(out[:, :8], branch.detach(), rtol=1e-6, atol=1e-6)
    assert_close(out[:, 8:], x, rtol=0, atol=0)


def test_res_block_bottle_and_gradients_reach_the_input():
    block = res_block(8, bottle=True)
    assert block[0][0].out_channels == 4
    x = minitorch.randn(2, 8, 5, 5, requires_grad=True)
    block(x).sum().backward()
    assert x.grad is not None and tuple(x.grad.shape) == (2, 8, 5, 5)


def test_merge_layer_needs_sequential_ex():
    with pytest.raises(RuntimeError, match="SequentialEx"):
        MergeLayer()(minitorch.randn(1, 2, 3, 3))
    seq = SequentialEx(nn.ReLU(), MergeLayer(dense=True))
    x = minitorch.randn(1, 2, 3, 3)
    out = seq(x)
    assert_close(out, minitorch.cat([x.relu(), x], 1), rtol=0, atol=0)


# ---- Flatten, SigmoidRange -----------------------------------------------------------------------------------
def test_flatten_and_sigmoid_range():
    x = np.random.default_rng(1).standard_normal((5, 10, 1, 1))
    check(Flatten(), lambda t: t.view(t.size(0), -1), [x])
    assert tuple(Flatten(full=True)(minitorch.randn(2, 3, 1, 1)).shape) == (6,)
    check(SigmoidRange(-3, 3), lambda t: torch.sigmoid(t) * 6 - 3, [x])


# ---- PixelShuffle_ICNR ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [NormType.Weight, None, NormType.Spectral])
def test_pixel_shuffle_icnr_sub_kernels_are_equal(norm_type):
    layer = PixelShuffle_ICNR(6, 4, scale=2, norm_type=norm_type)
    x = minitorch.randn(2, 6, 5, 5)
    out = layer(x)
    assert tuple(out.shape) == (2, 4, 10, 10)
    conv = layer.conv[0]
    weight = conv.weight.detach().numpy().reshape(4, 4, 6)  # (out channel, group member, in)
    for member in range(1, 4):
        np.testing.assert_allclose(weight[:, member], weight[:, 0], rtol=1e-6)
    assert not np.allclose(weight[0, 0], weight[1, 0]), "different groups get different kernels"
    # So the first upsampling is nearest-neighbour: every 2 × 2 block of the output is constant.
    blocks = out.detach().numpy().reshape(2, 4, 5, 2, 5, 2)
    if norm_type is not NormType.Spectral:  # (the spectral norm's power iteration is per call)
        np.testing.assert_allclose(blocks, np.broadcast_to(blocks[:, :, :, :1, :, :1], blocks.shape),
                                   rtol=1e-6, atol=1e-6)


def test_pixel_shuffle_icnr_blur_keeps_the_size():
    layer = PixelShuffle_ICNR(4, scale=2, blur=True)
    assert tuple(layer(minitorch.randn(1, 4, 3, 3)).shape) == (1, 4, 6, 6)


@pytest.mark.parametrize("norm_type", [NormType.Weight, None])
def test_pixel_shuffle_blur_removes_the_checkerboard_of_unequal_sub_kernels(norm_type):
    """Once training has moved the four sub-kernels apart, a flat input comes out of the shuffle
    as a 2 × 2 tile repeated: a pure period-2 pattern.  The blur averages every 2 × 2 window,
    which holds each sub-position once, so the tile becomes its mean: flat again (but for the
    first row and column, which see the replication padding)."""
    layer = PixelShuffle_ICNR(6, 4, scale=2, norm_type=norm_type)
    weight = layer.conv[0].weight_v if norm_type is NormType.Weight else layer.conv[0].weight
    with minitorch.no_grad():  # sub-kernels no longer equal, as after training
        weight.copy_(np.random.default_rng(0).standard_normal(tuple(weight.shape)))
    x = minitorch.tensor(np.broadcast_to(np.random.default_rng(1).standard_normal((2, 6, 1, 1)),
                                         (2, 6, 5, 5)).astype(np.float32))
    sharp = layer(x).detach().numpy()
    tile = sharp[:, :, :2, :2]
    np.testing.assert_allclose(sharp, np.tile(tile, (1, 1, 5, 5)), rtol=1e-5, atol=1e-6)
    assert np.ptp(tile, axis=(2, 3)).max() > 0.1, "the shuffle's output has a checkerboard"
    layer.do_blur = True
    inner = layer(x).detach().numpy()[:, :, 1:, 1:]
    np.testing.assert_allclose(inner, np.broadcast_to(tile.mean(axis=(2, 3), keepdims=True),
                                                      inner.shape), rtol=1e-5, atol=1e-6)


def test_icnr_rejects_channel_counts_that_do_not_divide():
    with pytest.raises(ValueError, match="multiple of scale"):
        icnr(nn.Conv2d(2, 6, 1).weight, scale=2)


# ---- SelfAttention ------------------------------------------------------------------------------------------
def test_self_attention_matches_fastai_in_torch():
    layer = SelfAttention(16).double()
    reference = TorchSelfAttention(16, conv1d=True).double()  # fastai's own conv1d
    with minitorch.no_grad():
        layer.gamma.fill_(0.7)
    with torch.no_grad():
        reference.gamma.fill_(0.7)
        for name in ("query", "key", "value"):
            mine, theirs = getattr(layer, name), getattr(reference, name)
            theirs.weight_orig.copy_(torch.tensor(mine.weight_orig.detach().numpy()[..., 0]))
            theirs.weight_u.copy_(torch.tensor(mine.weight_u.detach().numpy()))
            theirs.weight_v.copy_(torch.tensor(mine.weight_v.detach().numpy()))
    x = np.random.default_rng(2).standard_normal((2, 16, 4, 5))
    check(layer, reference, [x], params=[("gamma", layer.gamma, reference.gamma)])
    for name in ("query", "key", "value"):
        mine, theirs = getattr(layer, name), getattr(reference, name)
        assert_close(mine.weight_orig.grad.reshape(*theirs.weight_orig.shape),
                     theirs.weight_orig.grad, rtol=1e-7, atol=1e-10, what=f"{name} grad")


def test_self_attention_starts_as_the_identity():
    layer = SelfAttention(8)
    x = minitorch.randn(2, 8, 3, 3)
    assert_close(layer(x).detach(), x, rtol=0, atol=0)
    with pytest.raises(ValueError, match="at least 8 channels"):
        SelfAttention(4)
