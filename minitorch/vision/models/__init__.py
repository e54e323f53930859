"""Model architectures, one file per family (fastai v1's ``vision/models/``).  Read after
``vision/layers.py``.

* ``mnist.py`` — the lesson's MNIST models A, B, C and the DenseNet variant.
* ``resnet.py`` — ResNet-18/34 in torchvision's layout, and a small encoder; then ``unet.py`` —
  fastai's DynamicUnet.
"""
from minitorch.vision.models.mnist import (  # noqa: F401
    MNIST_MODELS, basic_cnn, densenet_ish, refactored_cnn, resnet_ish)
from minitorch.vision.models.resnet import (  # noqa: F401
    BasicBlock, ResNet, resnet18, resnet34, small_encoder)
from minitorch.vision.models.unet import DynamicUnet, UnetBlock  # noqa: F401
