"""fastai v1's vision library: layers (``layers.py``: conv_layer, res_block, SequentialEx,
MergeLayer, Flatten, SigmoidRange, SelfAttention, PixelShuffle_ICNR), the model architectures
(``models/``), image data (``image.py``: sampling and lighting; ``transform.py``:
``get_transforms`` and its transforms; ``data.py``: ``ImageList``, ``ImageImageList``,
``imagenet_stats``; ``mnist.py``: MNIST as the lesson's image folders and its DataBunch) and GAN
training (``gan.py``: GANLearner, GANTrainer, the switchers, the losses, GANItemList)."""
from minitorch.vision.layers import (  # noqa: F401
    Flatten, MergeLayer, NormType, PixelShuffle_ICNR, SelfAttention, SequentialEx, SigmoidRange,
    conv_layer, icnr, init_default, relu, res_block, sigmoid_range)
from minitorch.vision import models  # noqa: F401,E402  (after layers: the models use them)
from minitorch.vision.data import ImageImageList, ImageList, imagenet_stats  # noqa: F401
from minitorch.vision.mnist import mnist_databunch, mnist_image_list  # noqa: F401
from minitorch.vision.transform import (  # noqa: F401
    RandTransform, brightness, contrast, crop_pad, dihedral, flip_lr, get_transforms, rand_crop,
    rand_zoom, rotate, symmetric_warp, zoom)
from minitorch.vision.gan import (  # noqa: F401,E402
    AdaptiveGANSwitcher, AdaptiveLoss, FixedGANSwitcher, GANDiscriminativeLR, GANItemList,
    GANLearner, GANLoss, GANModule, GANTrainer, GradientPenalty, NoisyItem, NoopLoss,
    WassersteinLoss, gan_loss_from_func, noop)
from minitorch.learner.metrics import accuracy_thresh_expand  # noqa: F401,E402
from minitorch.vision.layers import batchnorm_2d  # noqa: F401
from minitorch.vision.models import (  # noqa: F401
    DynamicUnet, UnetBlock, resnet18, resnet34, small_encoder)
from minitorch.vision.learner import cnn_config, create_body, model_meta, unet_learner  # noqa: F401
