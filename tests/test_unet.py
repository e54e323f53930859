"""fastai v1's DynamicUnet: parameter counts against fastai's construction rules worked out by
hand, shapes at sizes that are not multiples of 32 and at odd aspect ratios (also at another
size than the one it was built for), where blur and self-attention go, gradients through the
skips (finite differences), hooks that go away with the model, the residual head,
unet_learner's layer groups, freezing and predictions; and a small U-Net against fastai's code
written in PyTorch (same state_dict names; forward and backward in float64)."""
import functools
import gc
import warnings
import weakref

import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.nn import functional as F
from minitorch.vision import (
    DynamicUnet, ImageImageList, NormType, SelfAttention, conv_layer, create_body, resnet18, resnet34,
    imagenet_stats, small_encoder, unet_learner)
from minitorch.vision.models.unet import ColourGatedMerge
from torch_compare import check
from torch_twins import TorchMerge, TorchSequentialEx, torch_colour_gated_merge


def n_params(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters())


def n_trainable(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters() if p.requires_grad)


# ---- fastai's parameter count, by hand ----------------------------------------------------------
NOT_GIVEN = "not given"


def conv_params(ni, nf, ks=3, norm=NormType.Batch, self_attention=False):
    """fastai's conv_layer: the conv (no bias before a batchnorm), then its normalisation."""
    n = ni * nf * ks * ks
    if norm in (NormType.Batch, NormType.BatchZero):
        n += 2 * nf                           # BatchNorm2d weight and bias; the conv has no bias
    elif norm is NormType.Weight:
        n += nf + nf                          # weight_g (a length per output channel) and bias
    else:
        n += nf                               # bias (spectral norm trains weight_orig, the weight)
    if self_attention:                        # query, key (nf → nf/8), value (nf → nf), gamma
        n += 2 * nf * (nf // 8) + nf * nf + 1
    return n


def fastai_unet_params(encoder_params, ni, skips, norm=NOT_GIVEN, self_attention=False,
                       last_cross=True, bottle=False, final_shuffle=True, n_in=3, n_classes=3):
    """DynamicUnet's parameters, following fastai v1.0.61's __init__ line by line.  ``ni``: the
    encoder's output channels; ``skips``: the hooked activations' channels, deepest first.
    A norm_type not given leaves conv_layer's default (Batch) and PixelShuffle_ICNR's (Weight)."""
    conv_norm = NormType.Batch if norm is NOT_GIVEN else norm
    shuffle_norm = NormType.Weight if norm is NOT_GIVEN else norm
    total = encoder_params + 2 * ni                                   # batchnorm_2d(ni)
    total += conv_params(ni, 2 * ni, norm=conv_norm) + conv_params(2 * ni, ni, norm=conv_norm)
    up = ni
    for i, x_c in enumerate(skips):
        final = i == len(skips) - 1
        total += conv_params(up, (up // 2) * 4, ks=1, norm=shuffle_norm)  # PixelShuffle_ICNR
        total += 2 * x_c                                              # batchnorm_2d of the skip
        n = up // 2 + x_c
        nf = n // 2 if final else n
        total += conv_params(n, nf, norm=conv_norm)
        total += conv_params(nf, nf, norm=conv_norm,
                             self_attention=self_attention and i == len(skips) - 3)
        up = nf
    if final_shuffle:
        total += conv_params(up, up * 4, ks=1, norm=shuffle_norm)
    if last_cross:
        up += n_in
        inner = up // 2 if bottle else up
        total += conv_params(up, inner, norm=conv_norm) + conv_params(inner, up, norm=conv_norm)
    total += conv_params(up, n_classes, ks=1, norm=conv_norm)
    return total


RESNET_HEAD = 512 * 1000 + 1000
RESNET_SKIPS = [256, 128, 64, 64]  # layer3, layer2, layer1, the stem's ReLU

PARAM_ROWS = [
    # (encoder, size, DynamicUnet options, formula options)
    ("resnet34", 64, dict(blur=True, self_attention=True, y_range=(-3., 3.),
                          norm_type=NormType.Weight),
     dict(norm=NormType.Weight, self_attention=True)),
    ("resnet34", 32, dict(norm_type=None), dict(norm=None)),
    ("resnet18", 32, dict(norm_type=NormType.Batch), dict(norm=NormType.Batch)),
    ("resnet18", 32, dict(norm_type=NormType.Spectral, self_attention=True),
     dict(norm=NormType.Spectral, self_attention=True)),
    ("resnet18", 32, dict(bottle=True, n_classes=1), dict(bottle=True, n_classes=1)),
    ("resnet18", 32, dict(last_cross=False, norm_type=NormType.Weight),
     dict(last_cross=False, norm=NormType.Weight)),
    ("resnet18", (72, 56), dict(norm_type=NormType.Batch, residual=True),
     dict(norm=NormType.Batch)),
    ("small", 32, dict(norm_type=NormType.Batch, y_range=(-3., 3.)), dict(norm=NormType.Batch)),
    ("small", 32, dict(blur=True, self_attention=True), dict(self_attention=True)),
]


@functools.lru_cache(maxsize=None)
def _resnet_body(arch):
    """One body per ResNet for the whole file (building 21 M parameters takes seconds): a U-Net
    only adds hooks to its encoder, and they go when the U-Net goes."""
    return create_body(arch)


def _encoder(name):
    return {"resnet18": lambda: _resnet_body(resnet18), "resnet34": lambda: _resnet_body(resnet34),
            "small": small_encoder}[name]()


@pytest.mark.parametrize("name,size,options,formula", PARAM_ROWS)
def test_parameter_count_is_fastais(name, size, options, formula):
    encoder = _encoder(name)
    options = dict(options)
    n_classes = options.pop("n_classes", 3)
    model = DynamicUnet(encoder, n_classes, size, **options)
    if name.startswith("resnet"):
        enc_params = {"resnet18": 11_689_512, "resnet34": 21_797_672}[name] - RESNET_HEAD
        ni, skips = 512, RESNET_SKIPS
    else:
        enc_params, ni, skips = n_params(encoder), 256, [128, 64, 32]
    assert n_params(encoder) == enc_params
    assert n_params(model) == fastai_unet_params(enc_params, ni, skips, **formula)


def test_the_issues_example_count():
    """fastai 1.0.61's ResNet-34 U-Net at 64 px with blur, self-attention and weight norm."""
    assert fastai_unet_params(21_797_672 - RESNET_HEAD, 512, RESNET_SKIPS,
                              norm=NormType.Weight, self_attention=True) == 41_413_534


def test_resnet34_unet_structure():
    body = create_body(resnet34)
    model = DynamicUnet(body, 3, (64, 64), blur=True, blur_final=False, self_attention=True)
    # Hooks on the children just before the size changes, deepest first.
    assert [h for h in model.sfs.hooks] == [b.hook for b in model.layers[4:8]]
    hooked = [body[6], body[5], body[4], body[2]]  # layer3, layer2, layer1, the stem's ReLU
    for module in hooked:
        assert len(module._forward_hooks) == 1
    blocks = model.layers[4:8]
    assert [b.conv2[0].out_channels for b in blocks] == [512, 384, 256, 96]
    assert [b.shuf.do_blur for b in blocks] == [True, True, True, False]  # blur_final=False
    assert [isinstance(b.conv2[-1], SelfAttention) for b in blocks] == [False, True, False, False]
    assert [type(m).__name__ for m in model.layers[8:]] == [
        "PixelShuffle_ICNR", "ResizeToInput", "MergeLayer", "SequentialEx", "Sequential"]
    assert model.layers[-2][0][0].in_channels == 99  # 96 + the input's 3


# ---- shapes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,built,run", [
    ("resnet18", (72, 56), (72, 56)),
    ("resnet18", (65, 97), (65, 97)),
    ("resnet18", (64, 64), (100, 36)),  # built at one size, used at another
    ("small", (65, 97), (65, 97)),
    ("small", (72, 56), (33, 47)),
])
def test_output_has_the_inputs_size(name, built, run):
    model = DynamicUnet(_encoder(name), 3, built, self_attention=True, blur=True)
    out = model(minitorch.randn(2, 3, *run))
    assert tuple(out.shape) == (2, 3, *run)
    model.eval()
    with minitorch.no_grad():
        assert tuple(model(minitorch.randn(1, 3, *run)).shape) == (1, 3, *run)


def test_bad_arguments():
    with pytest.raises(ValueError, match="img_size"):
        DynamicUnet(small_encoder(), 3, (32, 32, 3))
    with pytest.raises(ValueError, match="y_range"):
        DynamicUnet(small_encoder(), 3, 32, residual=True, y_range=(-3, 3))
    with pytest.raises(ValueError, match="n_classes"):
        DynamicUnet(small_encoder(), 1, 32, residual=True)
    with pytest.raises(ValueError, match="spectral"):
        DynamicUnet(small_encoder(), 3, 32, residual=True, norm_type=NormType.Spectral)


# ---- gradients through the skips ---------------------------------------------------------------
def test_gradients_flow_through_the_skips():
    """The encoder's first layer gets the gradient of every path, the skip included: backward
    against finite differences (a detached skip, as in fastai 1.0.37, would miss a term)."""
    minitorch.manual_seed(0)
    encoder = nn.Sequential(conv_layer(3, 4, stride=2), conv_layer(4, 4),
                            conv_layer(4, 8, stride=2))
    model = DynamicUnet(encoder, 3, (8, 8), norm_type=None).double().eval()
    x = minitorch.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)))
    r = minitorch.tensor(np.random.default_rng(1).standard_normal((2, 3, 8, 8)))
    weight = encoder[1][0].weight  # the conv whose output is the skip (through ReLU and BN)

    def loss():
        return (model(x) * r).sum()

    loss().backward()
    analytic = weight.grad.numpy().copy()
    assert model.sfs[0].stored.requires_grad  # the stored skip kept its graph
    eps = 1e-6
    for index in [(0, 0, 0, 0), (1, 2, 1, 2), (3, 3, 2, 1)]:
        with minitorch.no_grad():
            original = float(weight.array[index])
            weight.array[index] = original + eps
            up = loss().item()
            weight.array[index] = original - eps
            down = loss().item()
            weight.array[index] = original
        assert analytic[index] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8)


# ---- hooks go away with the model ----------------------------------------------------------------
def test_hooks_are_removed_when_the_model_is_deleted():
    body = create_body(resnet18)
    hooked = [body[2], body[4], body[5], body[6]]
    model = DynamicUnet(body, 3, (32, 32))
    model(minitorch.randn(2, 3, 32, 32))
    assert [len(m._forward_hooks) for m in hooked] == [1, 1, 1, 1]
    ref = weakref.ref(model)
    hooks_ref = weakref.ref(model.sfs)
    del model
    gc.collect()
    assert ref() is None and hooks_ref() is None  # nothing kept the model or its hooks alive
    assert [len(m._forward_hooks) for m in hooked] == [0, 0, 0, 0]
    # The body can serve a new U-Net, which hooks it once.
    again = DynamicUnet(body, 3, (32, 32))
    assert [len(m._forward_hooks) for m in hooked] == [1, 1, 1, 1]
    again.remove_hooks()
    assert [len(m._forward_hooks) for m in hooked] == [0, 0, 0, 0]
    with pytest.raises(RuntimeError, match=r"hooks were removed \(remove_hooks\(\)\)"):
        again(minitorch.randn(2, 3, 32, 32))


# ---- the residual head ---------------------------------------------------------------------------
@pytest.mark.parametrize("norm", [NOT_GIVEN, NormType.Batch, NormType.Weight, None])
def test_residual_head_starts_as_the_identity_and_learns(norm):
    kwargs = {} if norm is NOT_GIVEN else dict(norm_type=norm)
    model = DynamicUnet(small_encoder(), 3, (24, 40), residual=True, **kwargs)
    x = minitorch.randn(2, 3, 24, 40)
    np.testing.assert_array_equal(model(x).detach().numpy(), x.numpy())
    model.eval()
    with minitorch.no_grad():
        np.testing.assert_array_equal(model(x).detach().numpy(), x.numpy())
    model.train()
    F.mse_loss(model(x), minitorch.randn(2, 3, 24, 40)).backward()
    final = model.layers[-2]  # the 1×1 conv_layer before the MergeLayer
    if isinstance(final[-1], nn.BatchNorm2d):
        zeroed = final[-1].weight
    else:
        zeroed = final[0].weight_g if norm is NormType.Weight else final[0].weight
    assert np.abs(zeroed.grad.numpy()).max() > 0


# ---- unet_learner ----------------------------------------------------------------------------------
def _image_data(n=8, size=(32, 32), bs=4):
    """Image-to-image data as the lesson builds it: inputs, targets (a noisy copy), four items
    held out, both normalised with ImageNet's statistics."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, 3, *size)).astype(np.float32)
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1).astype(np.float32)
    return (ImageImageList.from_arrays(x).split_by_idx([0, 1, 2, 3])
            .label_from_func(lambda path: y[int(path.name)])
            .databunch(bs=bs).normalize(imagenet_stats, do_y=True))


def test_unet_learner_groups_freeze_and_lrs():
    learn = unet_learner(_image_data(), resnet18, pretrained=False, loss_func=F.mse_loss,
                         norm_type=NormType.Weight, silent=True)
    model = learn.model
    assert isinstance(model, DynamicUnet)
    assert len(learn.layer_groups) == 3
    assert learn.layer_groups[1][0] is model[0][6][0].conv1  # layer3 starts group 1
    assert learn.layer_groups[2][0] is model[1]               # the decoder is group 2
    total = n_params(model)
    assert n_trainable(model) == total  # not pretrained: nothing frozen
    learn.freeze()
    encoder_bn = sum(n_params(m) for m in model[0].modules() if isinstance(m, nn.BatchNorm2d))
    decoder = total - n_params(model[0])
    assert n_trainable(model) == decoder + encoder_bn  # train_bn: the encoder's BN still trains
    learn.unfreeze()
    assert n_trainable(model) == total
    assert np.allclose(learn.lr_range(slice(1e-5, 1e-3)), [1e-5, 1e-4, 1e-3])


def test_a_frozen_unet_learner_trains_only_the_decoder_and_predicts_any_size():
    learn = unet_learner(_image_data(), small_encoder, pretrained=False, loss_func=F.mse_loss,
                         norm_type=NormType.Weight, blur=True, self_attention=True, silent=True)
    model = learn.model
    learn.freeze()
    conv = model[0][0][0]          # the encoder's first conv: frozen
    bn = model[0][0][2]            # its batchnorm: trains (train_bn)
    head = model.layers[-1][0]     # the last 1×1 conv: trains
    before = [p.detach().numpy().copy() for p in (conv.weight, bn.weight, head.weight_v)]
    learn.fit(1, slice(1e-4, 1e-2))
    after = [p.detach().numpy() for p in (conv.weight, bn.weight, head.weight_v)]
    assert np.array_equal(before[0], after[0])
    assert not np.array_equal(before[1], after[1])
    assert not np.array_equal(before[2], after[2])
    for shape in [(3, 32, 32), (3, 65, 97), (3, 40, 24)]:
        image, pred, raw = learn.predict(minitorch.randn(*shape))  # fastai: (item, pred, raw)
        assert tuple(raw.shape) == tuple(pred.shape) == shape


def test_unet_learner_pretrained_resnet_without_converted_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITORCH_MODELS", str(tmp_path))  # no resnet18_torchvision.npz there
    with pytest.raises(ValueError, match="pretrained.*convert_torchvision"):
        unet_learner(_image_data(), resnet18, loss_func=F.mse_loss)


# ---- against fastai's U-Net written in PyTorch -------------------------------------------------------
def torch_conv_layer(ni, nf, ks=3, stride=1, norm=NormType.Batch, use_activ=True):
    bn = norm is NormType.Batch
    conv = torch.nn.Conv2d(ni, nf, ks, stride, (ks - 1) // 2, bias=not bn)
    if norm is NormType.Weight:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            conv = torch.nn.utils.weight_norm(conv)
    return torch.nn.Sequential(conv, *([torch.nn.ReLU()] if use_activ else []),
                               *([torch.nn.BatchNorm2d(nf)] if bn else []))


class TorchShuffle(torch.nn.Module):
    def __init__(self, ni, nf, blur, norm):
        super().__init__()
        self.conv = torch_conv_layer(ni, nf * 4, ks=1, norm=norm, use_activ=False)
        self.shuf, self.pad = torch.nn.PixelShuffle(2), torch.nn.ReplicationPad2d((1, 0, 1, 0))
        self.blur, self.do_blur, self.relu = torch.nn.AvgPool2d(2, stride=1), blur, torch.nn.ReLU()

    def forward(self, x):
        x = self.shuf(self.relu(self.conv(x)))
        return self.blur(self.pad(x)) if self.do_blur else x


class TorchUnetBlock(torch.nn.Module):
    def __init__(self, up_in_c, x_in_c, hook, final_div, blur, norm):
        super().__init__()
        self.hook = hook
        self.shuf = TorchShuffle(up_in_c, up_in_c // 2, blur, norm)
        self.bn = torch.nn.BatchNorm2d(x_in_c)
        ni = up_in_c // 2 + x_in_c
        nf = ni if final_div else ni // 2
        self.conv1, self.conv2 = torch_conv_layer(ni, nf, norm=norm), torch_conv_layer(nf, nf,
                                                                                         norm=norm)
        self.relu = torch.nn.ReLU()

    def forward(self, up_in):
        s = self.hook["stored"]
        up_out = self.shuf(up_in)
        if s.shape[-2:] != up_out.shape[-2:]:
            up_out = torch.nn.functional.interpolate(up_out, s.shape[-2:], mode="nearest")
        return self.conv2(self.conv1(self.relu(torch.cat([up_out, self.bn(s)], 1))))


class TorchResize(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.interpolate(x, x.orig.shape[-2:], mode="nearest")


def torch_tiny_unet(norm, blur, blur_last_shuffle=False):
    """fastai 1.0.61's DynamicUnet on ``tiny_encoder``'s twin, its hooks not detached
    (``blur_last_shuffle``: minitorch's option, the last shuffle blurred too)."""
    enc = torch.nn.Sequential(torch_conv_layer(3, 8, stride=2), torch_conv_layer(8, 8),
                              torch_conv_layer(8, 16, stride=2))
    hook = {}
    enc[1].register_forward_hook(lambda m, i, o: hook.__setitem__("stored", o))
    res = TorchSequentialEx(torch_conv_layer(11, 11, norm=norm),
                            torch_conv_layer(11, 11, norm=norm), TorchMerge(False))
    return TorchSequentialEx(
        enc, torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Sequential(torch_conv_layer(16, 32, norm=norm), torch_conv_layer(32, 16, norm=norm)),
        TorchUnetBlock(16, 8, hook, final_div=False, blur=blur, norm=norm),
        TorchShuffle(8, 8, blur=blur_last_shuffle, norm=norm), TorchResize(), TorchMerge(True), res,
        torch_conv_layer(11, 3, ks=1, norm=norm, use_activ=False))


def tiny_encoder():
    return nn.Sequential(conv_layer(3, 8, stride=2), conv_layer(8, 8), conv_layer(8, 16, stride=2))


@pytest.mark.parametrize("norm,blur,blur_last_shuffle,size", [
    (NormType.Weight, True, False, (12, 20)),
    (NormType.Batch, False, False, (13, 19)),   # odd: the block interpolates, the end resizes
    (NormType.Weight, True, True, (12, 20)),    # beyond fastai: the last shuffle blurred too
    (NormType.Batch, False, True, (13, 19)),
])
def test_tiny_unet_matches_fastais_in_torch(norm, blur, blur_last_shuffle, size):
    model = DynamicUnet(tiny_encoder(), 3, size, blur=blur, norm_type=norm,
                        blur_last_shuffle=blur_last_shuffle).double()
    assert model.layers[5].do_blur == blur_last_shuffle  # the shuffle up to the input's size
    twin = torch_tiny_unet(norm, blur, blur_last_shuffle).double()
    theirs = twin.state_dict()
    ours = model.state_dict()
    assert list(ours) == list(theirs)
    rng = np.random.default_rng(0)
    with torch.no_grad():  # random values everywhere (batchnorm weights and biases included)
        for key, value in theirs.items():
            if value.dtype.is_floating_point and "running" not in key:
                value.copy_(torch.tensor(rng.uniform(0.5, 1.5, tuple(value.shape))))
    model.load_state_dict({k: v.numpy() for k, v in theirs.items()})
    x = rng.standard_normal((2, 3, *size))
    first = model.layers[0][0][0]
    param = "weight_v" if norm is NormType.Weight else "weight"
    check(model, twin, [x], params=[
        ("encoder's first conv", first.weight, twin.layers[0][0][0].weight),
        ("block conv1", getattr(model.layers[4].conv1[0], param),
         getattr(twin.layers[4].conv1[0], param))])


# ---- keep_grey: the residual head's colour gated by the input's ----------------------------------
def grey_faint_and_colourful_pixels(rng, shape):
    """Pixels in [0, 1] (N, 3, H, W): a third grey, a third with colour below tau (0.03), a third
    colourful — the gate shut, half open and open."""
    grey = rng.uniform(0.1, 0.9, (shape[0], 1, *shape[2:])).repeat(3, 1)
    amount = rng.choice([0.0, 0.01, 0.2], size=(shape[0], 1, *shape[2:]))
    return np.clip(grey + amount * rng.standard_normal(shape), 0, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_colour_gated_merge_matches_torch(dtype):
    rng = np.random.default_rng(0)
    mean, std = (np.array(v).reshape(1, 3, 1, 1) for v in imagenet_stats)
    orig = ((grey_faint_and_colourful_pixels(rng, (2, 3, 6, 7)) - mean) / std).astype(dtype)
    x = (0.3 * rng.standard_normal((2, 3, 6, 7))).astype(dtype)
    merge = ColourGatedMerge(imagenet_stats)

    def ours(x):
        x.orig = minitorch.tensor(orig)  # as SequentialEx hands it over: the input is data
        return merge(x)

    check(ours, lambda x: torch_colour_gated_merge(x, torch.from_numpy(orig), imagenet_stats,
                                                   0.03), [x])


def test_colour_gated_merge_gradcheck():
    """Finite differences agree with the backward, and the backward can be differentiated again
    (the head is linear in the correction: its second derivatives are zero)."""
    rng = np.random.default_rng(1)
    mean, std = (np.array(v).reshape(1, 3, 1, 1) for v in imagenet_stats)
    orig = minitorch.tensor((grey_faint_and_colourful_pixels(rng, (1, 3, 4, 5)) - mean) / std)
    merge = ColourGatedMerge(imagenet_stats)

    def head(x):
        x.orig = orig
        return merge(x)

    x = minitorch.tensor(0.3 * rng.standard_normal((1, 3, 4, 5)), requires_grad=True)
    assert minitorch.gradcheck(head, [x])
    assert minitorch.gradgradcheck(head, [x])


def test_keep_grey_keeps_a_grey_photo_grey_and_changes_nothing_else():
    """With every weight moved off its start (the last conv no longer zero), a grey batch comes out
    grey (R = G = B to float32's rounding) yet changed, and a colourful one exactly as the plain
    residual head gives it."""
    def build(keep_grey):
        minitorch.manual_seed(0)
        return DynamicUnet(small_encoder(channels=(8, 16)), 3, (16, 16), blur=True,
                           norm_type=NormType.Weight, residual=True, keep_grey=keep_grey).eval()
    gated, plain = build(imagenet_stats), build(None)
    with minitorch.no_grad():
        for p in gated.parameters():
            p.add_(0.01)
    plain.load_state_dict(gated.state_dict())
    mean, std = (np.array(v, np.float32).reshape(1, 3, 1, 1) for v in imagenet_stats)
    rng = np.random.default_rng(0)
    grey = rng.uniform(0, 1, (2, 1, 16, 16)).repeat(3, 1).astype(np.float32)
    with minitorch.no_grad():
        out = gated(minitorch.tensor((grey - mean) / std)).numpy() * std + mean
    assert np.abs(out.max(1) - out.min(1)).max() < 1e-5  # grey
    assert np.abs(out - grey).mean() > 0.01               # but changed
    vivid = np.stack([rng.uniform(0.6, 1, (2, 16, 16)), rng.uniform(0, 0.3, (2, 16, 16)),
                      rng.uniform(0.3, 0.6, (2, 16, 16))], 1).astype(np.float32)  # colour ≥ 0.1
    x = minitorch.tensor((vivid - mean) / std)
    with minitorch.no_grad():
        np.testing.assert_allclose(gated(x).numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-5)


def test_keep_grey_is_refused_where_it_cannot_work():
    with pytest.raises(ValueError, match="residual=True and RGB"):
        DynamicUnet(small_encoder(channels=(8, 16)), 3, (16, 16), keep_grey=imagenet_stats)
    with pytest.raises(ValueError, match=r"normalisation statistics as \(mean, std\)"):
        DynamicUnet(small_encoder(channels=(8, 16)), 3, (16, 16), residual=True,
                    keep_grey=([0.5, 0.5], [0.2, 0.2]))
    with pytest.raises(ValueError, match="tau"):
        ColourGatedMerge(imagenet_stats, tau=0)
    with pytest.raises(RuntimeError, match="x.orig"):
        ColourGatedMerge(imagenet_stats)(minitorch.randn(1, 3, 4, 4))
    x = minitorch.randn(1, 1, 4, 4)
    x.orig = minitorch.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"RGB batches \(N, 3, H, W\)"):
        ColourGatedMerge(imagenet_stats)(x)
