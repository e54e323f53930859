"""VGG16 in plain PyTorch (torchvision is not installed): the one home of the torch VGG that the
feature-loss, quality and weights tests and ``benchmarks/bench_superres.py`` hold minitorch to.
Read after ``minitorch/vision/models/vgg.py`` (the same network in minitorch) and
``pretrained.py`` (the weights).

* ``torch_vgg16_features(upto, state)`` — torchvision's ``vgg16().features`` (or its first
  ``upto`` layers, ``features[:30]`` being what a feature loss runs, up to relu5_3), with the
  weights of ``state`` loaded when given;
* ``torchvision_vgg16()`` — the whole of torchvision's ``vgg16()``: ``features``, ``avgpool``,
  ``classifier`` (random weights: for its names, shapes and parameter count);
* ``pretrained_features_state()`` — the pretrained ``features`` as the file in
  ``$MINITORCH_MODELS`` holds them, read with NumPy alone: a reference independent of
  minitorch's loader (``load_vgg16_features_state``), which the tests check.
"""
import os
from pathlib import Path

import numpy as np
import torch

# torchvision's configuration "D": channels of each 3×3 conv (each followed by a ReLU), "M" a 2×2
# max pool.
VGG16_LAYERS = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M"]
MODELS = Path(os.environ.get("MINITORCH_MODELS") or
              Path(__file__).resolve().parents[1].parent / "shared" / "models")


def torch_vgg16_features(upto=None, state=None):
    """``vgg16().features[:upto]`` from torch's modules; ``state`` (``{'features.N.weight':
    array, ...}``, the pretrained file's names) loads the weights of the layers kept."""
    layers, channels = [], 3
    for v in VGG16_LAYERS:
        if v == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(channels, v, 3, padding=1), torch.nn.ReLU()]
            channels = v
    model = torch.nn.Sequential(*layers[:upto])
    if state is not None:
        model.load_state_dict({k[len("features."):]: torch.as_tensor(np.asarray(v))
                               for k, v in state.items() if int(k.split(".")[1]) < len(model)})
    return model


def torchvision_vgg16():
    """torchvision's ``vgg16()``: its ``features``, ``avgpool`` and ``classifier``."""
    model = torch.nn.Module()
    model.features = torch_vgg16_features()
    model.avgpool = torch.nn.AdaptiveAvgPool2d((7, 7))
    model.classifier = torch.nn.Sequential(
        torch.nn.Linear(25088, 4096), torch.nn.ReLU(True), torch.nn.Dropout(),
        torch.nn.Linear(4096, 4096), torch.nn.ReLU(True), torch.nn.Dropout(),
        torch.nn.Linear(4096, 1000))
    return model


def pretrained_features_state():
    """``{'features.N.weight': array, ...}`` read from ``$MINITORCH_MODELS/vgg16_hed_features.npz``
    with NumPy (``allow_pickle=False``)."""
    with np.load(MODELS / "vgg16_hed_features.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}
