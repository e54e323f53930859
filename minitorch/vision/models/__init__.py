"""Vision models in torchvision's layouts: VGG16 (and its pretrained convolutions, for the
feature loss).  ``pretrained.py`` finds, checks and builds the weight files."""
from minitorch.vision.models.vgg import (  # noqa: F401
    CREDIT, IMAGENET_STATS, RELU_IDS, VGG, VGG_MEAN, VGGInput, vgg16, vgg16_features)
