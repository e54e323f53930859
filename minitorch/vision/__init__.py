"""fastai v1's vision library: the layers (``layers.py``: conv_layer, res_block, SequentialEx,
MergeLayer, Flatten, SigmoidRange, SelfAttention, PixelShuffle_ICNR), the models (``models/``)
and GAN training (``gan.py``: GANLearner, GANTrainer, the switchers, the losses, GANItemList)."""
from minitorch.vision.layers import (  # noqa: F401
    Flatten, MergeLayer, NormType, PixelShuffle_ICNR, SelfAttention, SequentialEx, SigmoidRange,
    conv_layer, icnr, init_default, relu, res_block, sigmoid_range)
from minitorch.vision.gan import (  # noqa: F401
    AdaptiveGANSwitcher, AdaptiveLoss, FixedGANSwitcher, GANDiscriminativeLR, GANItemList,
    GANLearner, GANLoss, GANModule, GANTrainer, NoisyItem, NoopLoss, WassersteinLoss,
    gan_databunch, gan_loss_from_func)
from minitorch.learner.metrics import accuracy_thresh_expand  # noqa: F401
