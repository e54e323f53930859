"""The argument helpers every image op shares: ``ops/common.py``'s ``pair`` (how convolutions,
pooling, conv layers and transforms read a 2-D size) and ``ops/windows.py``'s ``same_padding``
(PyTorch's ``padding='same'``), against hand-written values and torch."""
import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.data.transforms import pad_crop
from minitorch.ops.common import pair, positive_pair
from minitorch.ops.windows import same_padding


@pytest.mark.parametrize("value,expected", [
    (3, (3, 3)), ((3, 5), (3, 5)), ([2, 7], (2, 7)), (np.int64(4), (4, 4)),
    ((np.int32(1), 0), (1, 0)), (0, (0, 0)),
])
def test_pair(value, expected):
    got = pair(value, "kernel_size", "conv2d")
    assert got == expected and all(type(v) is int for v in got)


@pytest.mark.parametrize("value", [2.5, (1, 2, 3), (1,), True, "3", (1, 2.0), None])
def test_pair_rejects(value):
    with pytest.raises(ValueError, match=r"conv2d: kernel_size must be an int or a pair of ints"):
        pair(value, "kernel_size", "conv2d")


def test_positive_pair():
    assert positive_pair((1, 2), "stride", "max_pool2d") == (1, 2)
    with pytest.raises(ValueError, match="max_pool2d: stride must be positive"):
        positive_pair((1, 0), "stride", "max_pool2d")


def test_every_user_of_pair_names_itself():
    with pytest.raises(ValueError, match="Conv2d: kernel_size must be an int or a pair"):
        nn.Conv2d(1, 1, 2.5)
    with pytest.raises(ValueError, match="ConvTranspose2d: stride must be an int or a pair"):
        nn.ConvTranspose2d(1, 1, 3, stride=(1, 1, 1))
    with pytest.raises(ValueError, match="pad_crop: size must be an int or a pair"):
        pad_crop(np.zeros((1, 1, 4, 4)), 1, (2, 2, 2), np.zeros(1, int), np.zeros(1, int))


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on even kernels
@pytest.mark.parametrize("kernel,dilation,expected", [
    ((3, 3), (1, 1), ((1, 1), (1, 1))),
    ((4, 2), (1, 1), ((1, 2), (0, 1))),   # an odd total: the extra one after
    ((3, 4), (2, 3), ((2, 2), (4, 5))),   # dilation·(k − 1) = 4 and 9
    ((1, 1), (5, 5), ((0, 0), (0, 0))),
])
def test_same_padding_by_hand_and_against_torch(kernel, dilation, expected):
    assert same_padding(kernel, dilation) == expected
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, *kernel))
    theirs = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w),
                                        padding="same", dilation=dilation)
    ours = minitorch.nn.functional.conv2d(minitorch.tensor(x), minitorch.tensor(w),
                                          padding="same", dilation=dilation)
    layer = nn.Conv2d(3, 4, kernel, padding="same", dilation=dilation, bias=False,
                      dtype=minitorch.float64)
    layer.weight.array[...] = minitorch.backend.to_device(w, layer.weight.device)
    for out in (ours, layer(minitorch.tensor(x))):
        np.testing.assert_allclose(out.detach().numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
