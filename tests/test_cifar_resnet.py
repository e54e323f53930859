"""He et al.'s CIFAR nets (``minitorch/vision/models/cifar_resnet.py``) against their torch twin
(``tests/torch_twins_papers.py``): parameter counts by the paper's formula, state-dict names and
shapes, the map sizes stage by stage, option A's shortcut, the forward and backward with the same
weights (training and eval mode, plain and residual), the initialisation, the errors."""
import numpy as np
import pytest
import torch

import minitorch
from minitorch.vision.models.cifar_resnet import (
    CifarResNet, ShortcutA, blocks_per_stage, cifar_plain, cifar_resnet)
from torch_compare import DEVICE, assert_close, check
from torch_twins import randomize_batchnorm_state
from torch_twins_papers import TorchCifarResNet, TorchShortcutA


def n_params(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters())


def paper_parameter_count(depth, widths, in_channels, num_classes=10):
    """Section 4.2 counted by hand: a 3×3 conv and its batchnorm (2 parameters a channel); per
    stage 2n 3×3 convs, the first from the previous width, each with a batchnorm; the linear
    layer.  No parameters in the shortcuts (option A), no conv biases."""
    n = (depth - 2) // 6
    w1, w2, w3 = widths
    count = 9 * in_channels * w1 + 2 * w1
    for w_in, w in ((w1, w1), (w1, w2), (w2, w3)):
        count += 9 * w_in * w + (2 * n - 1) * 9 * w * w + 2 * n * 2 * w
    return count + w3 * num_classes + num_classes


COUNTS = [  # (depth, widths, in_channels, the count, where it comes from)
    (20, (16, 32, 64), 3, 269_722, "the paper's ResNet-20: 0.27 M"),
    (56, (16, 32, 64), 3, 853_018, "the paper's ResNet-56: 0.85 M"),
    (110, (16, 32, 64), 3, 1_727_962, "the paper's ResNet-110: 1.7 M"),
    (20, (8, 16, 32), 1, None, "the lesson's 20 layers on Fashion-MNIST"),
    (56, (8, 16, 32), 1, None, "the lesson's 56 layers on Fashion-MNIST"),
    (8, (4, 6, 12), 2, None, "odd widths, n = 1"),
]


@pytest.mark.parametrize("depth,widths,in_channels,count,source", COUNTS)
def test_parameter_count_is_the_papers_formula(depth, widths, in_channels, count, source):
    expected = paper_parameter_count(depth, widths, in_channels)
    if count is not None:
        assert expected == count, source
    residual = cifar_resnet(depth, widths, in_channels)
    plain = cifar_plain(depth, widths, in_channels)
    twin = TorchCifarResNet(blocks_per_stage(depth), widths, True, in_channels)
    assert n_params(residual) == n_params(plain) == n_params(twin) == expected, source
    assert residual.depth == depth


@pytest.mark.parametrize("residual", [True, False])
def test_state_dict_names_and_shapes_are_the_twins(residual):
    model = CifarResNet(2, (4, 8, 16), residual, in_channels=1)
    twin = TorchCifarResNet(2, (4, 8, 16), residual, in_channels=1)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    assert list(ours) == list(theirs), set(ours) ^ set(theirs)
    assert ours == theirs
    assert ours["layer2.0.conv1.weight"] == (8, 4, 3, 3)
    assert ours["layer3.1.bn2.running_var"] == (16,)
    assert [name for name, _ in model.named_children()] == [
        "conv1", "bn1", "relu", "layer1", "layer2", "layer3", "avgpool", "fc"]
    shortcuts = [type(b.shortcut).__name__ for stage in (model.layer1, model.layer2,
                                                         model.layer3) for b in stage]
    expected = ["NoneType", "NoneType", "ShortcutA", "NoneType", "ShortcutA", "NoneType"]
    assert shortcuts == (expected if residual else ["NoneType"] * 6)


@pytest.mark.parametrize("size,maps", [(28, (28, 14, 7)), (32, (32, 16, 8)), (9, (9, 5, 3))])
def test_each_stage_halves_the_map_and_the_output_is_one_score_per_class(size, maps):
    model = cifar_resnet(14, (4, 8, 16), in_channels=1, num_classes=7).to(DEVICE)
    x = minitorch.randn(3, 1, size, size, device=DEVICE)
    with minitorch.no_grad():
        h = model.relu(model.bn1(model.conv1(x)))
        shapes = []
        for stage in (model.layer1, model.layer2, model.layer3):
            h = stage(h)
            shapes.append(tuple(h.shape))
        assert tuple(model(x).shape) == (3, 7)
    assert shapes == [(3, 4, maps[0], maps[0]), (3, 8, maps[1], maps[1]),
                      (3, 16, maps[2], maps[2])]


@pytest.mark.parametrize("in_planes,planes,size,dtype", [
    (4, 8, 6, np.float64), (4, 8, 7, np.float64), (3, 3, 5, np.float64), (8, 16, 4, np.float32)])
def test_shortcut_a_matches_torch(in_planes, planes, size, dtype):
    x = np.random.default_rng(0).standard_normal((2, in_planes, size, size)).astype(dtype)
    check(ShortcutA(in_planes, planes), TorchShortcutA(in_planes, planes), [x])


def test_shortcut_a_matches_torch_on_a_non_contiguous_input():
    wide = np.random.default_rng(1).standard_normal((2, 4, 6, 12))
    check(ShortcutA(4, 8), TorchShortcutA(4, 8), [wide[:, :, :, ::2]], keep_layout=True)



def _layout(array):
    """The axes from the one that varies slowest in memory to the fastest."""
    return tuple(int(axis) for axis in np.argsort([-stride for stride in array.strides],
                                                  kind="stable"))


def test_the_residual_stream_keeps_the_conv_layout():
    """On the CPU a conv leaves its output batch-innermost, (C, H, W, N) in memory.  Option A's
    shortcut (a strided slice, then zero channels) and its gradient must keep the stream's
    layout: an array in C order added to a batch-innermost stream turns every later sum
    C-ordered, and every op meeting the two layouts then walks one of them across memory (the
    residual net took a third longer a step than the plain one, measured)."""
    minitorch.manual_seed(0)
    model = cifar_resnet(8, (2, 4, 8), in_channels=1).to(DEVICE)
    x = minitorch.tensor(np.random.default_rng(0).standard_normal((4, 1, 12, 12)),
                         dtype=minitorch.float32, device=DEVICE)
    stream = model.layer1(model.relu(model.bn1(model.conv1(x))))
    out = model.layer2[0](stream)               # the block whose shortcut is option A
    loss = model.fc(model.avgpool(model.layer3(out)).flatten(1)).sum()
    grad_stream, = minitorch.autograd.grad(loss, [stream])   # as it flows, not a .grad copy
    if DEVICE == "cpu":
        assert _layout(stream.array) == (1, 2, 3, 0), "the CPU conv's output is batch-innermost"
    for what, array in [("output", out.array), ("input's gradient", grad_stream.array)]:
        assert _layout(array) == _layout(stream.array), (
            f"the shortcut block's {what} left the stream's layout: strides {array.strides}, "
            f"the input's {stream.array.strides}")


def _twin_with_random_state(n, widths, residual, seed):
    torch.manual_seed(seed)
    return randomize_batchnorm_state(TorchCifarResNet(n, widths, residual, in_channels=1).double())


@pytest.mark.parametrize("n,residual,training,dtype", [
    (1, True, True, np.float64), (1, False, True, np.float64),
    (2, True, False, np.float64), (2, False, False, np.float64),
    (2, True, True, np.float32),
])
def test_forward_backward_matches_torch_with_the_same_weights(n, residual, training, dtype):
    widths = (4, 8, 16)
    twin = _twin_with_random_state(n, widths, residual, seed=n)
    model = CifarResNet(n, widths, residual, in_channels=1).double()
    model.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    if dtype == np.float32:
        model, twin = model.float(), twin.float()
    model.to(DEVICE).train(training)
    twin.train(training)
    x = np.random.default_rng(n).standard_normal((3, 1, 12, 12)).astype(dtype)
    tol = {} if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)  # 6n + 2 layers of rounding
    check(model, twin, [x], **tol, params=[
        ("conv1.weight", model.conv1.weight, twin.conv1.weight),
        ("layer2.0.conv1.weight", model.layer2[0].conv1.weight, twin.layer2[0].conv1.weight),
        ("layer3.0.bn2.weight", model.layer3[0].bn2.weight, twin.layer3[0].bn2.weight),
        ("layer1.0.bn1.bias", model.layer1[0].bn1.bias, twin.layer1[0].bn1.bias),
        ("fc.weight", model.fc.weight, twin.fc.weight)])
    if training:  # the running statistics moved the same way
        assert_close(model.layer3[-1].bn1.running_mean, twin.layer3[-1].bn1.running_mean,
                     rtol=1e-5, atol=1e-6, what="running_mean")


def test_initialisation_is_he_et_al():
    model = cifar_plain(20, (16, 32, 64))
    w = model.layer3[1].conv1.weight.detach().numpy()  # N(0, 2 / fan_in), fan_in = 64 · 9
    assert w.std() == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.05)
    assert abs(w.mean()) < 0.01
    assert (model.layer2[0].bn2.weight.detach().numpy() == 1).all()
    assert (model.layer2[0].bn2.bias.detach().numpy() == 0).all()


def test_bad_shapes_are_refused():
    for depth in (21, 2, 7, "20"):
        with pytest.raises(ValueError, match="6n \\+ 2"):
            cifar_resnet(depth)
    with pytest.raises(ValueError, match="three stages"):
        CifarResNet(3, widths=(8, 16))
    with pytest.raises(ValueError, match="positive int"):
        CifarResNet(0)
    with pytest.raises(ValueError, match="only adds channels"):
        ShortcutA(8, 4)
