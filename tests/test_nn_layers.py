"""Every layer of ``minitorch.nn`` against its ``torch.nn`` twin.

The table ``LAYERS`` has one row per layer and setting: a factory that builds the layer from
either library's ``nn`` with the same arguments, and the input shape.  For every row, in float64
(tight) and float32 (torch's default tolerances), in training and evaluation mode:

* the torch layer gets random weights (and buffers), and the minitorch layer loads them through
  ``load_state_dict`` from ``{k: v.numpy()}``, the way a user moves a model over;
* ``torch_compare.check`` compares the output, the input gradient and every parameter gradient
  under a random upstream gradient;
* every buffer (running statistics, ``num_batches_tracked``) is compared after the forward.

Then: reprs against torch's strings, Module features (walking the tree, modes, hooks, devices),
containers, bad input messages, initialisation statistics, weight norm and spectral norm.
"""
import math
import warnings

import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.nn import functional as F
from minitorch.nn import clip_grad, init
from torch_compare import (
    DEVICE, TORCH_DEVICE, assert_close, check, check_higher_order, to_numpy, tolerance)


def row(name, factory, shape, integer_input=None, **kw):
    return pytest.param(factory, shape, integer_input, id=name, **kw)


LAYERS = [
    row("identity", lambda nn: nn.Identity(), (2, 3)),
    row("flatten", lambda nn: nn.Flatten(), (2, 3, 4, 5)),
    row("flatten_0_2", lambda nn: nn.Flatten(0, 2), (2, 3, 4, 5)),
    row("linear", lambda nn: nn.Linear(5, 3), (4, 5)),
    row("linear_no_bias_3d", lambda nn: nn.Linear(5, 3, bias=False), (2, 4, 5)),
    row("conv", lambda nn: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 7, 6)),
    row("conv_k1", lambda nn: nn.Conv2d(3, 5, 1), (2, 3, 4, 4)),
    row("conv_stride_dilation", lambda nn: nn.Conv2d(3, 4, (3, 2), stride=2, padding=(1, 0),
                                                      dilation=(2, 1)), (2, 3, 9, 8)),
    row("conv_groups_no_bias", lambda nn: nn.Conv2d(4, 6, 3, groups=2, bias=False), (2, 4, 6, 6)),
    row("conv_same_even_kernel", lambda nn: nn.Conv2d(3, 4, 4, padding="same"), (1, 3, 7, 5)),
    row("conv_same_dilated", lambda nn: nn.Conv2d(3, 4, 3, padding="same", dilation=2),
        (2, 3, 6, 6)),
    row("conv_valid", lambda nn: nn.Conv2d(3, 2, 5, padding="valid"), (2, 3, 7, 7)),
    row("conv_replicate", lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="replicate"),
        (2, 2, 5, 6)),
    row("conv_reflect", lambda nn: nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode="reflect"),
        (2, 2, 5, 6)),
    row("conv_circular_strided", lambda nn: nn.Conv2d(2, 3, 3, stride=2, padding=1,
                                                       padding_mode="circular"), (2, 2, 5, 6)),
    row("conv_unbatched", lambda nn: nn.Conv2d(3, 2, 3, stride=2), (3, 7, 7)),
    row("conv_transpose", lambda nn: nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
        (2, 4, 5, 5)),
    row("conv_transpose_outpad_groups", lambda nn: nn.ConvTranspose2d(
        4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), (2, 4, 4, 5)),
    row("conv_transpose_dilation_no_bias", lambda nn: nn.ConvTranspose2d(
        3, 2, (3, 2), dilation=2, bias=False), (1, 3, 4, 4)),
    row("max_pool", lambda nn: nn.MaxPool2d(2), (2, 3, 6, 6)),
    row("max_pool_pad_ceil", lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 7, 7)),
    row("avg_pool", lambda nn: nn.AvgPool2d(2), (2, 3, 6, 6)),
    row("avg_pool_pad_exclude", lambda nn: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        (2, 3, 7, 6)),
    row("adaptive_avg_1", lambda nn: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 4)),
    row("adaptive_avg_uneven", lambda nn: nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
    row("adaptive_max", lambda nn: nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 5, 7)),
    row("batchnorm1d", lambda nn: nn.BatchNorm1d(4), (6, 4)),
    row("batchnorm1d_sequence", lambda nn: nn.BatchNorm1d(4), (3, 4, 5)),
    row("batchnorm2d", lambda nn: nn.BatchNorm2d(3), (4, 3, 5, 5)),
    row("batchnorm2d_no_affine", lambda nn: nn.BatchNorm2d(3, affine=False), (4, 3, 3, 3)),
    row("batchnorm2d_no_running_stats", lambda nn: nn.BatchNorm2d(3, track_running_stats=False),
        (4, 3, 3, 3)),
    row("batchnorm2d_cumulative", lambda nn: nn.BatchNorm2d(3, momentum=None), (4, 3, 3, 3)),
    row("batchnorm2d_momentum_no_bias", lambda nn: nn.BatchNorm2d(3, 1e-3, 0.3, bias=False),
        (4, 3, 3, 3)),
    row("dropout_p0", lambda nn: nn.Dropout(0.0), (4, 5)),
    row("dropout2d_p0", lambda nn: nn.Dropout2d(0.0), (2, 3, 4, 4)),
    row("relu", lambda nn: nn.ReLU(), (3, 4)),
    row("relu_inplace_after_linear", lambda nn: nn.Sequential(nn.Linear(4, 4),
                                                              nn.ReLU(inplace=True)), (3, 4)),
    row("leaky_relu", lambda nn: nn.LeakyReLU(0.2), (3, 4)),
    row("sigmoid", lambda nn: nn.Sigmoid(), (3, 4)),
    row("tanh", lambda nn: nn.Tanh(), (3, 4)),
    row("gelu", lambda nn: nn.GELU(), (3, 4)),
    row("gelu_tanh", lambda nn: nn.GELU(approximate="tanh"), (3, 4)),
    row("silu", lambda nn: nn.SiLU(), (3, 4)),
    row("silu_inplace_after_linear", lambda nn: nn.Sequential(nn.Linear(4, 4),
                                                              nn.SiLU(inplace=True)), (3, 4)),
    row("softplus", lambda nn: nn.Softplus(), (3, 4)),
    row("softplus_beta_threshold", lambda nn: nn.Softplus(beta=2, threshold=1.0), (3, 4)),
    row("elu", lambda nn: nn.ELU(), (3, 4)),
    row("elu_alpha_inplace_after_linear", lambda nn: nn.Sequential(
        nn.Linear(4, 4), nn.ELU(alpha=0.5, inplace=True)), (3, 4)),
    row("layernorm", lambda nn: nn.LayerNorm(5), (4, 5)),
    row("layernorm_2d_shape", lambda nn: nn.LayerNorm((3, 4), eps=1e-3), (2, 5, 3, 4)),
    row("layernorm_no_bias", lambda nn: nn.LayerNorm([6], bias=False), (2, 3, 6)),
    row("layernorm_no_affine", lambda nn: nn.LayerNorm(6, elementwise_affine=False), (4, 6)),
    row("transformer_mlp", lambda nn: nn.Sequential(
        nn.LayerNorm(8), nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8), nn.Dropout(0.0)),
        (2, 3, 8)),
    row("softmax", lambda nn: nn.Softmax(dim=1), (3, 4, 2)),
    row("log_softmax", lambda nn: nn.LogSoftmax(dim=-1), (3, 4)),
    row("embedding", lambda nn: nn.Embedding(10, 4), (3, 5), integer_input=10),
    row("embedding_padding", lambda nn: nn.Embedding(10, 4, padding_idx=0), (4, 6),
        integer_input=10),
    row("embedding_max_norm", lambda nn: nn.Embedding(10, 4, max_norm=0.8), (3, 5),
        integer_input=10),
    row("pixel_shuffle", lambda nn: nn.PixelShuffle(2), (2, 8, 3, 3)),
    row("upsample_nearest", lambda nn: nn.Upsample(scale_factor=2), (2, 3, 3, 4)),
    row("upsample_bilinear", lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"),
        (2, 3, 3, 4)),
    row("upsample_bilinear_corners", lambda nn: nn.Upsample(size=(5, 7), mode="bilinear",
                                                            align_corners=True), (2, 3, 3, 4)),
    row("replication_pad", lambda nn: nn.ReplicationPad2d((1, 2, 0, 3)), (2, 3, 4, 4)),
    row("reflection_pad", lambda nn: nn.ReflectionPad2d((1, 2, 0, 3)), (2, 3, 4, 4)),
    row("circular_pad", lambda nn: nn.CircularPad2d((1, 2, 0, 3)), (2, 3, 4, 4)),
    row("zero_pad", lambda nn: nn.ZeroPad2d(1), (2, 3, 4, 4)),
    row("small_cnn", lambda nn: nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.LeakyReLU(0.1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)), (3, 1, 9, 9)),
]
DTYPES = [np.float64, np.float32]
MODES = ["train", "eval"]


def randomize(torch_module, seed=0):
    """Give every parameter and float buffer of ``torch_module`` random values (a BatchNorm's
    default 1 and 0 would hide a mistake); running variances stay positive."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(torch_module.named_parameters()) + list(torch_module.named_buffers()):
            if name.endswith("num_batches_tracked"):
                t.fill_(3)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=generator) + 0.5)
            elif t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=generator) * 2 - 1)
    return torch_module


def twins(factory, dtype):
    """The torch layer (random weights) and the minitorch layer with those weights loaded."""
    torch_layer = randomize(factory(torch.nn)).to(
        dtype=torch.float64 if dtype == np.float64 else torch.float32).to(TORCH_DEVICE)
    mt_layer = factory(nn).to(dtype=np.dtype(dtype)).to(DEVICE)
    mt_layer.load_state_dict({k: v.detach().cpu().numpy()
                              for k, v in torch_layer.state_dict().items()})
    return mt_layer, torch_layer


def parameter_pairs(mt_layer, torch_layer):
    mt_params = dict(mt_layer.named_parameters())
    assert list(mt_params) == [n for n, _ in torch_layer.named_parameters()]
    return [(name, mt_params[name], p) for name, p in torch_layer.named_parameters()]


def make_input(shape, dtype, integer_input):
    generator = np.random.default_rng(1)
    if integer_input:
        x = generator.integers(0, integer_input, shape)
        x[0, :2] = 0  # make sure a padding index appears
        return x
    return generator.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("factory,shape,integer_input", LAYERS)
def test_layer_matches_torch(factory, shape, integer_input, dtype, mode):
    mt_layer, torch_layer = twins(factory, dtype)
    mt_layer.train(mode == "train")
    torch_layer.train(mode == "train")
    x = make_input(shape, dtype, integer_input)
    check(mt_layer, torch_layer, [x], params=parameter_pairs(mt_layer, torch_layer))
    mt_buffers = dict(mt_layer.named_buffers())
    for name, buffer in torch_layer.named_buffers():
        assert_close(mt_buffers[name], buffer, what=f"buffer {name}", **tolerance(dtype))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("factory,shape,integer_input", LAYERS)
def test_layer_second_order(factory, shape, integer_input, mode):
    """Second derivatives (create_graph=True) with respect to the input and every parameter,
    against torch's (float64)."""
    mt_layer, torch_layer = twins(factory, np.float64)
    mt_layer.train(mode == "train")
    torch_layer.train(mode == "train")
    check_higher_order(mt_layer, torch_layer, [make_input(shape, np.float64, integer_input)],
                       params=parameter_pairs(mt_layer, torch_layer))


@pytest.mark.parametrize("factory,shape,integer_input", LAYERS)
def test_layer_weights_after_forward_match_torch(factory, shape, integer_input):
    # Embedding(max_norm=...) renormalises the rows it looks up, in place, as PyTorch does.
    mt_layer, torch_layer = twins(factory, np.float64)
    x = make_input(shape, np.float64, integer_input)
    mt_layer(minitorch.tensor(x))
    torch_layer(torch.tensor(x))
    for name, value in torch_layer.state_dict().items():
        assert_close(mt_layer.state_dict()[name], value, what=name, **tolerance(np.float64))


@pytest.mark.parametrize("factory,shape,integer_input", LAYERS)
def test_layer_repr_and_state_dict_keys_match_torch(factory, shape, integer_input):
    mt_layer, torch_layer = factory(nn), factory(torch.nn)
    assert repr(mt_layer) == repr(torch_layer)
    assert list(mt_layer.state_dict()) == list(torch_layer.state_dict())
    for (name, t), m in zip(torch_layer.state_dict().items(), mt_layer.state_dict().values()):
        assert tuple(m.shape) == tuple(t.shape), name
        assert m.dtype == t.numpy().dtype, name


@pytest.mark.parametrize("factory,shape,integer_input",
                         [p for p in LAYERS if p.id in ("conv", "linear", "conv_transpose",
                                                        "batchnorm2d", "embedding",
                                                        "layernorm_2d_shape", "gelu")])
def test_layer_gradcheck(factory, shape, integer_input):
    mt_layer, _ = twins(factory, np.float64)
    x = minitorch.tensor(make_input(shape, np.float64, integer_input),
                         requires_grad=not integer_input)
    assert minitorch.gradcheck(lambda x, *params: mt_layer(x), [x, *mt_layer.parameters()])


def test_batchnorm_running_stats_over_several_steps_then_eval():
    for momentum in (0.1, None):
        mt_layer, torch_layer = twins(lambda nn: nn.BatchNorm2d(3, momentum=momentum),
                                      np.float64)
        generator = np.random.default_rng(5)
        for _ in range(3):
            x = generator.standard_normal((4, 3, 2, 2)) * 3 + 1
            mt_layer(minitorch.tensor(x))
            torch_layer(torch.tensor(x))
        for name, buffer in torch_layer.named_buffers():
            assert_close(getattr(mt_layer, name), buffer, what=name, **tolerance(np.float64))
        assert mt_layer.num_batches_tracked.item() == 6  # 3 from randomize, 3 batches
        mt_layer.eval()
        torch_layer.eval()
        check(mt_layer, torch_layer, [generator.standard_normal((2, 3, 2, 2))],
              params=parameter_pairs(mt_layer, torch_layer))


# ---- the functions of F that are compositions rather than ops ------------------------------------
def _table(*shape):
    return np.random.default_rng(7).standard_normal(shape)


FUNCTIONS = [
    pytest.param(lambda F, x, w, b: F.linear(x, w, b), [_table(2, 3, 4), _table(5, 4), _table(5)],
                 id="linear"),
    pytest.param(lambda F, x, w, b: F.linear(x, w), [_table(3, 4), _table(5, 4), _table(5)],
                 id="linear_no_bias"),
    pytest.param(lambda F, x: F.pad(x, (1, 2, 0, 3), value=0.5), [_table(2, 3, 4)],
                 id="pad_constant"),
    pytest.param(lambda F, x: F.pad(x, (1, 0, 2, 1), mode="replicate"), [_table(2, 3, 4, 4)],
                 id="pad_replicate"),
    pytest.param(lambda F, x: F.pad(x, (1, 0, 2, 1), mode="reflect"), [_table(2, 3, 4, 4)],
                 id="pad_reflect"),
    pytest.param(lambda F, x: F.pad(x, (1, 0, 2, 1), mode="circular"), [_table(3, 4, 4)],
                 id="pad_circular"),
    pytest.param(lambda F, i, w: F.embedding(i, w, padding_idx=-1),
                 [np.array([[0, 5, 2], [5, 5, 1]]), _table(6, 3)], id="embedding_padding_idx"),
    pytest.param(lambda F, x: F.softmax(x, dim=0), [_table(3, 4)], id="softmax"),
    pytest.param(lambda F, x: F.log_softmax(x, 1, dtype=torch.float64 if F is TF else
                                            np.float64), [_table(3, 4).astype(np.float32)],
                 id="log_softmax_dtype"),
    pytest.param(lambda F, x: F.leaky_relu(x, 0.3), [_table(3, 4)], id="leaky_relu"),
    pytest.param(lambda F, x: F.relu(x), [_table(3, 4)], id="relu"),
    pytest.param(lambda F, x: F.dropout(x, 0.4, training=False), [_table(3, 4)],
                 id="dropout_eval"),
    pytest.param(lambda F, x: F.dropout2d(x, 0.0), [_table(2, 3, 4, 4)], id="dropout2d_p0"),
]
TF = torch.nn.functional


@pytest.mark.parametrize("fn,arrays", FUNCTIONS)
def test_functional_matches_torch(fn, arrays):
    check(lambda *a: fn(F, *a), lambda *a: fn(TF, *a), arrays)


def test_one_hot_matches_torch():
    labels = np.array([[0, 3], [2, 1]])
    check(lambda t: F.one_hot(t, 5), lambda t: TF.one_hot(t, 5), [labels])


# ---- dropout: the mask's statistics, since its random draws cannot match torch's ---------------
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_mask_statistics(p):
    x = minitorch.ones(200, 500, requires_grad=True)
    layer = nn.Dropout(p)
    y = layer(x)
    values = y.detach().numpy()
    kept = values != 0
    assert abs(kept.mean() - (1 - p)) < 0.01  # 100,000 draws: std of the mean ~0.0016
    np.testing.assert_allclose(values[kept], 1 / (1 - p), rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), values, rtol=1e-6)  # same mask, same scale
    layer.eval()
    assert layer(x) is x


def test_dropout2d_drops_whole_channels():
    x = minitorch.ones(50, 40, 3, 3)
    values = nn.Dropout2d(0.5)(x).numpy()
    per_channel = values.reshape(50, 40, 9)
    assert (per_channel == per_channel[..., :1]).all()  # one draw per (sample, channel)
    assert abs((per_channel[..., 0] != 0).mean() - 0.5) < 0.05
    assert set(np.unique(values)) <= {0.0, 2.0}


def test_dropout_edge_probabilities():
    x = minitorch.randn(3, 4)
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    assert F.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


# ---- reprs of nested models and the repeated-module shorthand ----------------------------------
def test_nested_repr_matches_torch():
    def build(nn):
        body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                             nn.ReLU(inplace=True))
        return nn.Sequential(body, nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] +
                                                 [nn.Dropout(0.1)]),
                             nn.ModuleDict({"head": nn.Linear(8, 2), "act": nn.Tanh()}))
    assert repr(build(nn)) == repr(build(torch.nn))


# ---- Module features -----------------------------------------------------------------------------
class TwoBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
        self.head = nn.Linear(3, 2)
        self.register_buffer("scale", minitorch.ones(2))

    def forward(self, x):
        return self.head(self.features(x)) * self.scale


def test_module_tree_walking():
    model = TwoBranch()
    assert [n for n, _ in model.named_parameters()] == [
        "features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    assert len(list(model.parameters())) == 4
    assert [n for n, _ in model.named_children()] == ["features", "head"]
    assert [n for n, _ in model.named_modules()] == ["", "features", "features.0",
                                                     "features.1", "head"]
    assert [type(m).__name__ for m in model.modules()] == [
        "TwoBranch", "Sequential", "Linear", "ReLU", "Linear"]
    # PyTorch's order: a module's own parameters and buffers, then its children's
    assert list(model.state_dict()) == ["scale", "features.0.weight", "features.0.bias",
                                        "head.weight", "head.bias"]
    shared = nn.Sequential(model.head, model.head)  # a shared layer counts once
    assert len(list(shared.parameters())) == 2


def _mixed_modes():
    """A model whose modules are not all in one mode: the top trains, its batchnorm is in eval
    mode (frozen statistics), an inner block is in eval mode but one layer of it trains."""
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6),
                          nn.Sequential(nn.Dropout(0.5), nn.Linear(6, 3)))
    model[1].eval()
    model[2].eval()
    model[2][1].train()
    return model


@pytest.mark.parametrize("raises", [False, True], ids=["block ends", "block raises"])
def test_eval_mode_gives_every_module_its_own_mode_back(raises):
    model = _mixed_modes()
    before = [m.training for m in model.modules()]
    assert len(set(before)) == 2  # mixed indeed
    x = minitorch.randn(5, 4)

    def block():
        with nn.eval_mode(model) as inside:
            assert inside is model and not any(m.training for m in model.modules())
            # inside, dropout is off: the same input gives the same output twice
            np.testing.assert_array_equal(model(x).detach().numpy(), model(x).detach().numpy())
            if raises:
                raise KeyError("in the block")
    if raises:
        with pytest.raises(KeyError, match="in the block"):
            block()
    else:
        block()
    assert [m.training for m in model.modules()] == before


def test_train_eval_zero_grad_requires_grad_apply():
    model = TwoBranch()
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model(minitorch.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(minitorch.randn(5, 4)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all((p.grad.numpy() == 0).all() for p in model.parameters())
    assert all(p.grad is not None for p in model.parameters())
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["Linear", "ReLU", "Sequential", "Linear", "TwoBranch"]  # children first
    model.apply(lambda m: init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    assert (model.head.bias.detach().numpy() == 0).all()


def test_to_changes_dtype_in_place_and_keeps_parameter_identity():
    model = TwoBranch()
    weight = model.head.weight
    model.to(minitorch.float64)
    assert model.head.weight is weight and weight.dtype == np.float64
    assert model.scale.dtype == np.float64
    model.to("cpu").float()
    assert weight.dtype == np.float32 and weight.device == "cpu"
    bn = nn.BatchNorm2d(2).double()
    assert bn.num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype


@pytest.mark.cuda
@pytest.mark.skipif(not minitorch.cuda_is_available(), reason="needs a GPU")
def test_to_cuda_moves_parameters_and_buffers():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).to("cuda")
    assert all(t.device == "cuda" for t in model.state_dict().values())
    out = model(minitorch.randn(2, 1, 5, 5, device="cuda"))
    assert out.device == "cuda"


def test_forward_hooks_with_removable_handles():
    model = TwoBranch()
    seen = []
    handle = model.features.register_forward_hook(
        lambda module, inputs, output: seen.append(tuple(output.shape)))
    model(minitorch.randn(5, 4))
    assert seen == [(5, 3)]
    handle.remove()
    model(minitorch.randn(5, 4))
    assert seen == [(5, 3)]
    with model.head.register_forward_hook(lambda m, i, o: o * 0):  # a hook may replace output
        assert (model(minitorch.randn(2, 4)).detach().numpy() == 0).all()
    assert (model(minitorch.randn(2, 4)).detach().numpy() != 0).any()
    pre = model.head.register_forward_pre_hook(lambda m, inputs: (inputs[0] * 0,))
    out = model(minitorch.randn(2, 4))
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(
        model.head.bias.detach().numpy(), (2, 2)), rtol=1e-6)
    pre.remove()


def test_custom_module_needs_super_init():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)
    with pytest.raises(AttributeError, match=r"Broken: call super\(\).__init__\(\) before"):
        Broken()


# ---- containers ----------------------------------------------------------------------------------
def test_sequential_indexing_slicing_and_editing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert seq[0] is layers[0] and seq[-1] is layers[2] and len(seq) == 3
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:]
    assert list(head.state_dict()) == ["2.weight", "2.bias"]  # torch keeps the names
    with pytest.raises(IndexError, match="index 3 is out of range for 3 modules"):
        seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    del seq[1]
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Sigmoid"]
    assert list(seq._modules) == ["0", "1", "2"]
    seq[2] = nn.Tanh()
    assert isinstance(seq[2], nn.Tanh)
    named = nn.Sequential(__import__("collections").OrderedDict(
        [("conv", nn.Conv2d(1, 1, 1)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"] and named.act is named[1]


def test_module_list_and_dict():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(list(blocks.parameters())) == 6 and len(blocks) == 3
    assert isinstance(blocks[1:], nn.ModuleList) and len(blocks[1:]) == 2
    blocks.append(nn.ReLU())
    blocks.extend([nn.Tanh()])
    assert [type(b).__name__ for b in blocks][-2:] == ["ReLU", "Tanh"]
    assert blocks[-1] is list(blocks)[-1]
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    assert list(heads) == ["a", "b"] and "a" in heads and len(heads) == 2
    assert list(heads.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    heads["c"] = nn.ReLU()
    assert list(heads.keys()) == ["a", "b", "c"]
    assert isinstance(heads.pop("c"), nn.ReLU) and "c" not in heads


# ---- bad input names the layer, what it expected and what it got -------------------------------
@pytest.mark.parametrize("layer,shape,message", [
    (lambda: nn.Conv2d(3, 8, 3), (2, 4, 8, 8),
     r"Conv2d\(3, 8, kernel_size=\(3, 3\), stride=\(1, 1\)\): expected input of shape "
     r"\(N, 3, H, W\) or \(3, H, W\) \(3 channels\), got shape \(2, 4, 8, 8\)"),
    (lambda: nn.Conv2d(3, 8, 3), (2, 3, 8),
     r"Conv2d\(3, 8.*expected input of shape \(N, 3, H, W\).*got shape \(2, 3, 8\)"),
    (lambda: nn.ConvTranspose2d(4, 2, 2), (1, 3, 5, 5),
     r"ConvTranspose2d\(4, 2.*\(4 channels\), got shape \(1, 3, 5, 5\)"),
    (lambda: nn.BatchNorm2d(16), (2, 8, 4, 4),
     r"BatchNorm2d\(16, .*\): expected input of shape \(N, 16, H, W\) \(16 channels\), got "
     r"shape \(2, 8, 4, 4\)"),
    (lambda: nn.BatchNorm2d(16), (2, 16),
     r"BatchNorm2d\(16.*got shape \(2, 16\)"),
    (lambda: nn.BatchNorm1d(5), (4, 3),
     r"BatchNorm1d\(5.*expected input of shape \(N, 5\) or \(N, 5, L\).*got shape \(4, 3\)"),
    (lambda: nn.Linear(10, 4), (3, 7),
     r"Linear\(in_features=10, out_features=4, bias=True\): expected input of shape "
     r"\(\.\.\., 10\).*got shape \(3, 7\)"),
    (lambda: nn.MaxPool2d(2), (4, 4),
     r"MaxPool2d\(kernel_size=2.*expected a 3-d \(C, H, W\) or 4-d.*got shape \(4, 4\)"),
])
def test_bad_input_names_layer_expected_and_got(layer, shape, message):
    with pytest.raises((RuntimeError, ValueError), match=message):
        layer()(minitorch.randn(*shape))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(IndexError, match="index 12 is out of range for a table of 10 rows"):
        nn.Embedding(10, 2)(minitorch.tensor([1, 12])).tolist()  # read: the GPU checks lazily


# ---- initialisation ------------------------------------------------------------------------------
def test_calculate_gain_matches_torch():
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                        ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("fn,kwargs,shape,expected_std,uniform_bound", [
    # the default a=0 is leaky_relu's negative slope: gain √(2 / (1 + 0²)) = √2
    (init.kaiming_uniform_, {}, (256, 128, 3, 3), math.sqrt(2) / math.sqrt(128 * 9),
     math.sqrt(6) / math.sqrt(128 * 9)),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, (256, 128, 3, 3),
     math.sqrt(2) / math.sqrt(256 * 9), math.sqrt(6) / math.sqrt(256 * 9)),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, (512, 300), math.sqrt(2 / 300), None),
    (init.kaiming_normal_, {"a": 0.2, "mode": "fan_out"}, (512, 300),
     math.sqrt(2 / 1.04) / math.sqrt(512), None),
    (init.xavier_uniform_, {"gain": 2.0}, (400, 300), 2 * math.sqrt(2 / 700),
     2 * math.sqrt(6 / 700)),
    (init.xavier_normal_, {}, (400, 300), math.sqrt(2 / 700), None),
    (init.normal_, {"mean": 0.0, "std": 0.02}, (300, 300), 0.02, None),
    (init.uniform_, {"a": -0.5, "b": 0.5}, (300, 300), 1 / math.sqrt(12), 0.5),
])
def test_init_distributions(fn, kwargs, shape, expected_std, uniform_bound):
    t = nn.Parameter(minitorch.zeros(*shape))
    assert fn(t, **kwargs) is t
    values = t.detach().numpy()
    assert values.std() == pytest.approx(expected_std, rel=0.03)
    assert abs(values.mean()) < 4 * expected_std / math.sqrt(values.size)
    if uniform_bound is not None:
        assert np.abs(values).max() <= uniform_bound * (1 + 1e-6)  # float32 rounding
        assert np.abs(values).max() > 0.99 * uniform_bound


def test_constant_zeros_ones_and_fan_errors():
    t = nn.Parameter(minitorch.zeros(3, 4))
    assert (init.constant_(t, 0.7).detach().numpy() == np.float32(0.7)).all()
    assert (init.ones_(t).detach().numpy() == 1).all()
    assert (init.zeros_(t).detach().numpy() == 0).all()
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(minitorch.zeros(5))
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_normal_(t, mode="fan_avg")


@pytest.mark.parametrize("factory,fan_in", [
    (lambda nn: nn.Linear(300, 200), 300),
    (lambda nn: nn.Conv2d(64, 32, 3), 64 * 9),
    (lambda nn: nn.Conv2d(64, 32, 3, groups=4), 16 * 9),
    (lambda nn: nn.ConvTranspose2d(64, 32, 4), 32 * 16),
])
def test_default_init_bounds_match_torch(factory, fan_in):
    torch.manual_seed(0)
    mt_layer, torch_layer = factory(nn), factory(torch.nn)
    bound = 1 / math.sqrt(fan_in)
    for name, p in torch_layer.named_parameters():
        ours = getattr(mt_layer, name).detach().numpy()
        theirs = p.detach().numpy()
        assert np.abs(ours).max() <= bound * (1 + 1e-6)  # float32 rounding of the bound
        assert np.abs(theirs).max() <= bound * (1 + 1e-6)
        if ours.size >= 1000:  # enough draws for the spread to be measured within 5%
            assert ours.std() == pytest.approx(theirs.std(), rel=0.05)
            assert ours.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_default_init_of_embedding_and_batchnorm():
    emb = nn.Embedding(1000, 50, padding_idx=3).weight.detach().numpy()
    assert emb.std() == pytest.approx(1.0, rel=0.03) and (emb[3] == 0).all()
    bn = nn.BatchNorm2d(4)
    state = {k: v.numpy() for k, v in bn.state_dict().items()}
    expected = {k: v.numpy() for k, v in torch.nn.BatchNorm2d(4).state_dict().items()}
    assert state.keys() == expected.keys()
    for k in state:
        np.testing.assert_array_equal(state[k], expected[k])


# ---- weight norm and spectral norm ---------------------------------------------------------------
def _torch_weight_norm(module, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.nn.utils.weight_norm(module, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("factory,shape,dim", [
    (lambda nn: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5), 0),
    (lambda nn: nn.Linear(5, 3), (4, 5), 1),
    (lambda nn: nn.Linear(5, 3), (4, 5), None),
    (lambda nn: nn.ConvTranspose2d(3, 2, 2, stride=2), (1, 3, 3, 3), 1),
])
def test_weight_norm_matches_torch(factory, shape, dim, dtype):
    torch_layer = _torch_weight_norm(randomize(factory(torch.nn)), dim=dim).to(
        torch.float64 if dtype == np.float64 else torch.float32)
    mt_layer = nn.utils.weight_norm(factory(nn), dim=dim).to(np.dtype(dtype))
    assert list(mt_layer.state_dict()) == list(torch_layer.state_dict())
    mt_layer.load_state_dict({k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})
    check(mt_layer, torch_layer, [np.random.default_rng(2).standard_normal(shape).astype(dtype)],
          params=parameter_pairs(mt_layer, torch_layer))
    nn.utils.remove_weight_norm(mt_layer)
    torch.nn.utils.remove_weight_norm(torch_layer)
    assert list(mt_layer.state_dict()) == list(torch_layer.state_dict())
    assert_close(mt_layer.weight, torch_layer.weight, **tolerance(dtype))


WEIGHT_NORM_SECOND_ORDER = [
    (lambda nn: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 4, 4), 0),
    (lambda nn: nn.Linear(4, 3), (3, 4), 1),
    (lambda nn: nn.Linear(4, 3), (3, 4), None),
]


@pytest.mark.parametrize("factory,shape,dim", WEIGHT_NORM_SECOND_ORDER)
def test_weight_norm_second_order(factory, shape, dim):
    """w = g · v / ‖v‖ is composed of ops: differentiable twice in x, g, v and the bias.

    The reference composes w from torch's ops too: torch.nn.utils.weight_norm computes it with
    the fused ``torch._weight_norm``, whose second derivative with respect to v is wrong for a
    ``dim`` (torch.autograd.gradgradcheck of it fails on the CPU, torch 2.13).
    """
    torch_layer = _torch_weight_norm(randomize(factory(torch.nn)), dim=dim).double()
    mt_layer = nn.utils.weight_norm(factory(nn), dim=dim).double().to(DEVICE)
    mt_layer.load_state_dict({k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})
    plain = factory(torch.nn).double()

    def composed(x):
        v = torch_layer.weight_v
        norm = (v * v).sum().sqrt() if dim is None else \
            (v * v).sum([d for d in range(v.ndim) if d != dim], keepdim=True).sqrt()
        weight = v * (torch_layer.weight_g / norm)
        return torch.func.functional_call(plain, {"weight": weight, "bias": torch_layer.bias}, x)
    x = np.random.default_rng(2).standard_normal(shape)
    check_higher_order(mt_layer, composed, [x], params=parameter_pairs(mt_layer, torch_layer))
    inputs = [minitorch.tensor(x, device=DEVICE, requires_grad=True), *mt_layer.parameters()]
    assert minitorch.gradgradcheck(lambda x, *params: mt_layer(x), inputs)


def test_weight_norm_initial_g_is_the_norm_and_weight_is_unchanged():
    layer = nn.Linear(4, 3)
    before = layer.weight.detach().numpy().copy()
    nn.utils.weight_norm(layer)
    np.testing.assert_allclose(layer.weight_g.detach().numpy()[:, 0],
                               np.linalg.norm(before, axis=1), rtol=1e-6)
    np.testing.assert_allclose(layer(minitorch.ones(1, 4)).detach().numpy()[0],
                               before.sum(1) + layer.bias.detach().numpy(), rtol=1e-5)
    with pytest.raises(RuntimeError, match="two weight_norm hooks"):
        nn.utils.weight_norm(layer)


@pytest.mark.parametrize("factory,shape", [
    (lambda nn: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5)),
    (lambda nn: nn.Linear(6, 3), (4, 6)),
    (lambda nn: nn.ConvTranspose2d(3, 5, 2, stride=2), (1, 3, 3, 3)),
])
def test_spectral_norm_matches_torch_over_training_steps_and_eval(factory, shape):
    torch_layer = torch.nn.utils.spectral_norm(randomize(factory(torch.nn))).double()
    mt_layer = nn.utils.spectral_norm(factory(nn)).double()
    assert list(mt_layer.state_dict()) == list(torch_layer.state_dict())
    mt_layer.load_state_dict({k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})
    generator = np.random.default_rng(4)
    for step in range(3):  # each training forward runs one power iteration on u and v
        mt_layer.zero_grad()
        torch_layer.zero_grad()
        check(mt_layer, torch_layer, [generator.standard_normal(shape)],
              params=parameter_pairs(mt_layer, torch_layer))
        for name in ("weight_u", "weight_v"):
            assert_close(getattr(mt_layer, name), getattr(torch_layer, name), what=name,
                         **tolerance(np.float64))
    mt_layer.eval()
    torch_layer.eval()
    check(mt_layer, torch_layer, [generator.standard_normal(shape)],
          params=parameter_pairs(mt_layer, torch_layer))
    u_before = mt_layer.weight_u.numpy().copy()
    mt_layer(minitorch.tensor(generator.standard_normal(shape)))
    np.testing.assert_array_equal(mt_layer.weight_u.numpy(), u_before)  # eval: no iteration


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("factory,shape", [
    (lambda nn: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 4, 4)),
    (lambda nn: nn.Linear(5, 3), (3, 5)),
])
def test_spectral_norm_second_order(factory, shape, mode):
    """W / σ with σ = uᵀWv (u, v constants after the power iteration) is composed of ops:
    differentiable twice in x, the weight and the bias, in training (one power iteration
    first) and in eval mode."""
    torch_layer = torch.nn.utils.spectral_norm(randomize(factory(torch.nn))).double()
    mt_layer = nn.utils.spectral_norm(factory(nn)).double().to(DEVICE)
    mt_layer.load_state_dict({k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})
    mt_layer.train(mode == "train")
    torch_layer.train(mode == "train")
    check_higher_order(mt_layer, torch_layer, [np.random.default_rng(5).standard_normal(shape)],
                       params=parameter_pairs(mt_layer, torch_layer))


@pytest.mark.parametrize("fn,shape", [("dropout", (3, 4)), ("dropout2d", (3, 4, 2, 2))])
def test_dropout_second_order(fn, shape):
    """Dropout multiplies by a random mask, a constant: tanh(dropout(x)) against torch's with
    minitorch's mask, and against finite differences with the mask drawn again from one seed."""
    def mt_fn(x):
        minitorch.manual_seed(7)
        return getattr(F, fn)(x, 0.4, training=True).tanh()
    kept = to_numpy(mt_fn(minitorch.ones(*shape, dtype=minitorch.float64, device=DEVICE))) != 0
    assert kept.any() and not kept.all()
    mask = torch.tensor(kept / 0.6)
    check_higher_order(mt_fn, lambda x: (x * mask).tanh(),
                       [np.random.default_rng(6).standard_normal(shape)])
    x = minitorch.tensor(np.random.default_rng(6).standard_normal(shape), device=DEVICE,
                         requires_grad=True)
    assert minitorch.gradgradcheck(mt_fn, [x])


def test_spectral_norm_bounds_the_largest_singular_value():
    layer = nn.utils.spectral_norm(nn.Linear(20, 30), n_power_iterations=30)
    layer(minitorch.randn(2, 20))
    sigma = np.linalg.svd(layer.weight.detach().numpy(), compute_uv=False)[0]
    assert sigma == pytest.approx(1.0, rel=1e-4)
    nn.utils.remove_spectral_norm(layer)
    assert [n for n, _ in layer.named_parameters()] == ["bias", "weight"]


def test_clip_grad_is_reexported_from_utils():
    assert nn.utils.clip_grad_norm_ is clip_grad.clip_grad_norm_
    assert nn.utils.clip_grad_value_ is clip_grad.clip_grad_value_
