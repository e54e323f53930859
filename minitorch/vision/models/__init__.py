"""Model architectures, one file per family (fastai v1's ``vision/models/``).  Read after
``vision/layers.py``.

* ``mnist.py`` — the lesson's MNIST models A, B, C and the DenseNet variant.
* ``gan.py`` — the GAN models: basic_generator, basic_critic (WGAN), gan_critic (superres GAN).
* ``vgg.py`` — VGG16 in torchvision's layout, its pretrained convolutions for the feature loss
  and their input map; ``pretrained.py`` finds, checks and builds the weight files.
* ``resnet.py`` — ResNet-18/34 in torchvision's layout, and a small encoder; then ``unet.py`` —
  fastai's DynamicUnet.
"""
from minitorch.vision.models.mnist import (  # noqa: F401
    MNIST_MODELS, basic_cnn, densenet_ish, refactored_cnn, resnet_ish)
from minitorch.vision.models.gan import (  # noqa: F401
    AvgFlatten, basic_critic, basic_generator, conv2d, conv2d_trans, gan_critic)
from minitorch.vision.models.vgg import (  # noqa: F401
    CREDIT, IMAGENET_STATS, RELU_IDS, VGG, VGG_MEAN, VGGInput, vgg16, vgg16_features)
from minitorch.vision.models.resnet import (  # noqa: F401
    BasicBlock, ResNet, resnet18, resnet34, small16, small_encoder)
from minitorch.vision.models.unet import DynamicUnet, UnetBlock  # noqa: F401
