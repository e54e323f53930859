"""The lesson's MNIST models (lesson 7, part 1), written out once for the lesson, the benchmarks
and the tests.  Read after ``vision/layers.py`` (``conv_layer``, ``res_block``); the lesson
(``lessons/lesson7_resnet_mnist.py``) tells their story and trains them.

Every model takes (N, 1, 28, 28) images to (N, 10) scores with five stride-2 3×3 convs, which
halve the grid each time: 28 → 14 → 7 → 4 → 2 → 1.  The channels go 1 → 8 → 16 → 32 → 16 → 10.

* ``basic_cnn`` (model A): conv → batchnorm → ReLU, the last conv with batchnorm only.
* ``refactored_cnn`` (model B): the same with fastai's ``conv_layer`` (conv without bias →
  ReLU → batchnorm), 82 parameters fewer.
* ``resnet_ish`` (model C): a residual block (``res_block``) after each of the first four.
* ``densenet_ish`` (the DenseNet variant): blocks that concatenate their input instead of adding
  it, so the channels double after every block.

``MNIST_MODELS`` names them by the lesson's letters.  Building a model draws its initial
weights from minitorch's random generator: seed it first (``minitorch.manual_seed``).
"""
from minitorch import nn
from minitorch.vision.layers import Flatten, conv_layer, res_block


def conv(ni, nf):
    """A plain stride-2 3×3 conv (model A's)."""
    return nn.Conv2d(ni, nf, kernel_size=3, stride=2, padding=1)


def basic_cnn():
    """Model A: five convs, each followed by batchnorm and ReLU (the last by batchnorm only)."""
    return nn.Sequential(
        conv(1, 8), nn.BatchNorm2d(8), nn.ReLU(),     # 14
        conv(8, 16), nn.BatchNorm2d(16), nn.ReLU(),   # 7
        conv(16, 32), nn.BatchNorm2d(32), nn.ReLU(),  # 4
        conv(32, 16), nn.BatchNorm2d(16), nn.ReLU(),  # 2
        conv(16, 10), nn.BatchNorm2d(10),             # 1
        Flatten(),                                    # remove the (1, 1) grid
    )


def conv2(ni, nf):
    """fastai's ``conv_layer`` with stride 2: conv (no bias) → ReLU → batchnorm."""
    return conv_layer(ni, nf, stride=2)


def refactored_cnn():
    """Model B: model A written with ``conv_layer``."""
    return nn.Sequential(
        conv2(1, 8),    # 14
        conv2(8, 16),   # 7
        conv2(16, 32),  # 4
        conv2(32, 16),  # 2
        conv2(16, 10),  # 1
        Flatten(),      # remove the (1, 1) grid
    )


def conv_and_res(ni, nf, dense=False):
    """A stride-2 ``conv_layer``, then a residual block (a dense one, concatenating, if
    ``dense``: its output has ``2 * nf`` channels)."""
    return nn.Sequential(conv2(ni, nf), res_block(nf, dense=dense))


def resnet_ish():
    """Model C: a residual block after each of the first four convs."""
    return nn.Sequential(
        conv_and_res(1, 8),
        conv_and_res(8, 16),
        conv_and_res(16, 32),
        conv_and_res(32, 16),
        conv2(16, 10),
        Flatten(),
    )


def densenet_ish():
    """The DenseNet variant of model C: each block concatenates its input to its output, so the
    next conv takes twice the channels."""
    return nn.Sequential(
        conv_and_res(1, 8, dense=True),    # → 16 channels
        conv_and_res(16, 16, dense=True),  # → 32
        conv_and_res(32, 32, dense=True),  # → 64
        conv_and_res(64, 16, dense=True),  # → 32
        conv2(32, 10),
        Flatten(),
    )


MNIST_MODELS = {"A": basic_cnn, "B": refactored_cnn, "C": resnet_ish, "D": densenet_ish}
