"""fastai v1's vision library: layers (``layers.py``: conv_layer, res_block, SequentialEx,
MergeLayer, Flatten, SigmoidRange, SelfAttention, PixelShuffle_ICNR), the model architectures
(``models/``), image data (``image.py``: sampling and lighting; ``transform.py``:
``get_transforms`` and its transforms; ``image_item.py``: fastai's ``Image``, ``open_image``;
``data.py``: ``ImageList``, ``ImageImageList``, ``imagenet_stats``; ``mnist.py``: MNIST as the
lesson's image folders and its DataBunch) and GAN training (``gan.py``: GANLearner, GANTrainer,
the switchers, the losses, GANItemList).  For the paper lessons: ``cifar_recipe.py`` (He et
al.'s training recipe) and ``landscape.py`` (Li et al.'s loss surfaces and Hessian
eigenvalues), imported from there.

``from minitorch.vision import *`` gives what ``from fastai.vision import *`` gives a notebook:
the names of this package, ``models``, and the training library under it — the Learner and its
callbacks, metrics and losses (``minitorch.learner``), the data block API and DataBunch
(``minitorch.data``), fastai's helpers (``minitorch/core.py``: ``defaults``, ``children``,
``requires_grad``, ``parallel``; ``Path.ls``).  Only public names (``__all__``): never a
submodule such as ``data``, which would shadow a notebook's own variable.
"""
from minitorch import core, data as _data, learner as _learner
from minitorch.core import *  # noqa: F401,F403
from minitorch.data import *  # noqa: F401,F403
from minitorch.learner import *  # noqa: F401,F403
from minitorch.vision.layers import (  # noqa: F401
    Flatten, MergeLayer, NormType, PixelShuffle_ICNR, SelfAttention, SequentialEx, SigmoidRange,
    conv_layer, icnr, init_default, relu, res_block, sigmoid_range)
from minitorch.vision import models  # noqa: F401,E402  (after layers: the models use them)
from minitorch.vision.image_item import Image, open_image, show_image  # noqa: F401
from minitorch.vision.data import (  # noqa: F401
    ImageImageList, ImageItemList, ImageList, imagenet_stats, resize_to)
from minitorch.vision.mnist import mnist_databunch, mnist_image_list  # noqa: F401
from minitorch.vision.transform import (  # noqa: F401
    RandTransform, brightness, contrast, crop_pad, dihedral, flip_lr, get_transforms, rand_crop,
    rand_zoom, rotate, symmetric_warp, zoom)
from minitorch.vision import gan as _gan  # noqa: E402
from minitorch.vision.gan import *  # noqa: F401,F403,E402
from minitorch.vision.layers import batchnorm_2d  # noqa: F401
from minitorch.vision.models import (  # noqa: F401
    DynamicUnet, UnetBlock, resnet18, resnet34, small_encoder)
from minitorch.vision.learner import cnn_config, create_body, model_meta, unet_learner  # noqa: F401

_OWN = ["Flatten", "MergeLayer", "NormType", "PixelShuffle_ICNR", "SelfAttention",
        "SequentialEx", "SigmoidRange", "conv_layer", "icnr", "init_default", "relu", "res_block",
        "sigmoid_range", "models", "Image", "open_image", "show_image", "ImageImageList",
        "ImageItemList", "ImageList", "imagenet_stats", "resize_to", "mnist_databunch",
        "mnist_image_list", "RandTransform",
        "brightness", "contrast", "crop_pad", "dihedral", "flip_lr", "get_transforms",
        "rand_crop", "rand_zoom", "rotate", "symmetric_warp", "zoom", "batchnorm_2d",
        "DynamicUnet", "UnetBlock", "resnet18", "resnet34", "small_encoder", "cnn_config",
        "create_body", "model_meta", "unet_learner"]
__all__ = list(dict.fromkeys(core.__all__ + _learner.__all__ + _data.__all__ + _OWN
                             + _gan.__all__))
