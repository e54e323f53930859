"""fastai v1's vision library: layers (``layers.py``: conv_layer, res_block, SequentialEx,
MergeLayer, Flatten, SigmoidRange, SelfAttention, PixelShuffle_ICNR), data (``image.py``:
sampling and lighting; ``transform.py``: ``get_transforms`` and its transforms; ``data.py``:
``ImageList``, ``ImageImageList``, ``imagenet_stats``) and the model architectures (``models/``)."""
# minitorch.data re-exports vision.data's image lists, and vision.data builds on
# minitorch.data.data_block: load minitorch.data first, or importing minitorch.vision on its own
# finds each of the two half made.
import minitorch.data  # noqa: F401,I001
from minitorch.vision.layers import (  # noqa: F401
    Flatten, MergeLayer, NormType, PixelShuffle_ICNR, SelfAttention, SequentialEx, SigmoidRange,
    conv_layer, icnr, init_default, relu, res_block, sigmoid_range)
from minitorch.vision.data import ImageImageList, ImageList, imagenet_stats  # noqa: F401
from minitorch.vision.transform import (  # noqa: F401
    RandTransform, brightness, contrast, crop_pad, dihedral, flip_lr, get_transforms, rand_crop,
    rand_zoom, rotate, symmetric_warp, zoom)
from minitorch.vision import models  # noqa: F401,E402  (after layers: the models use them)
