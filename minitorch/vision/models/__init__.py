"""Models for the vision lessons: torchvision-layout encoders and fastai v1's U-Net.

Read ``resnet.py`` (ResNet-18/34, a small encoder), then ``unet.py`` (DynamicUnet).
"""
from minitorch.vision.models.resnet import (  # noqa: F401
    BasicBlock, ResNet, resnet18, resnet34, small_encoder)
from minitorch.vision.models.unet import DynamicUnet, UnetBlock  # noqa: F401
