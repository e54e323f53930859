"""fastai v1's vision layers (``layers.py``): conv_layer, res_block, SequentialEx, MergeLayer,
Flatten, SigmoidRange, SelfAttention, PixelShuffle_ICNR; and the model architectures (``models/``)."""
from minitorch.vision.layers import (  # noqa: F401
    Flatten, MergeLayer, NormType, PixelShuffle_ICNR, SelfAttention, SequentialEx, SigmoidRange,
    conv_layer, icnr, init_default, relu, res_block, sigmoid_range)
from minitorch.vision import models  # noqa: F401,E402  (after layers: the models use them)
from minitorch.vision.layers import batchnorm_2d  # noqa: F401
from minitorch.vision.models import (  # noqa: F401
    DynamicUnet, UnetBlock, resnet18, resnet34, small_encoder)
from minitorch.vision.learner import cnn_config, create_body, model_meta, unet_learner  # noqa: F401
