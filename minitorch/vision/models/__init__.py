"""Models of fastai v1's vision library.  ``gan.py``: basic_generator, basic_critic, gan_critic."""
from minitorch.vision.models.gan import (  # noqa: F401
    AvgFlatten, basic_critic, basic_generator, conv2d, conv2d_trans, gan_critic)
