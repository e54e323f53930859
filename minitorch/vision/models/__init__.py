"""Model architectures, one file per family (fastai v1's ``vision/models/``).  Read after
``vision/layers.py``.

* ``mnist.py`` — the lesson's MNIST models A, B, C and the DenseNet variant.
"""
from minitorch.vision.models.mnist import (  # noqa: F401
    MNIST_MODELS, basic_cnn, densenet_ish, refactored_cnn, resnet_ish)
