"""ResNet-18 and ResNet-34 in torchvision's layout, and a small from-scratch U-Net encoder.
Read after ``nn/`` (Conv2d, BatchNorm2d, Sequential) and ``vision/layers.py``; the U-Net that
uses these as its encoder is ``unet.py``.

A ResNet (He et al. 2015) is a stem that divides the image by 4, then four stages of residual
blocks, each stage (after the first) halving the size and doubling the channels::

    conv1 7×7/2 → bn1 → relu → maxpool 3×3/2                        64 ch, 1/4 size
    layer1 .. layer4 (BasicBlocks: out = relu(x + bn2(conv2(relu(bn1(conv1(x)))))))
                                                      64, 128, 256, 512 ch, 1/4 … 1/32 size
    avgpool (global) → flatten → fc                                  the 1000-class head

When a block changes the size or the channels, the shortcut is a 1×1 conv with stride and a
batchnorm (``downsample``) so that ``x`` can still be added.  The attribute names, the order of
the children and the initialisation are torchvision's, so ``model.load_state_dict`` takes a
torchvision state_dict unchanged (``conv1.weight``, ``layer1.0.bn2.running_mean``,
``layer2.0.downsample.0.weight``, ``fc.bias``, ...).  The children's order matters to fastai:
``create_body`` cuts the model at ``children()[:-2]`` (dropping avgpool and fc), and the U-Net
hooks the children after which the spatial size changes.

``small_encoder`` is not a ResNet from the lesson: a light encoder (four stages of
``conv_layer`` with stride 2 + ``res_block``) for U-Nets trained from scratch on a 2-core CPU,
sized by what PyTorch itself trains in minutes there ("small": 32/64/128/256 channels).
"""
from minitorch import nn
from minitorch.autograd import no_grad
from minitorch.nn import init as nn_init
from minitorch.vision.layers import conv_layer, res_block
from minitorch.vision.models.pretrained import load_resnet_state


def conv3x3(in_planes, out_planes, stride=1):
    """3×3 convolution with padding 1 and no bias (a batchnorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    """1×1 convolution without bias: the shortcut's projection."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3×3 convs with batchnorm, and the shortcut: ``relu(branch(x) + shortcut(x))``.

    ``downsample`` (None, or a 1×1 conv + batchnorm) makes the shortcut match the branch when
    ``stride`` ≠ 1 or the channels change."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet for BasicBlocks: ``layers`` says how many blocks each stage has
    ([2, 2, 2, 2] for ResNet-18, [3, 4, 6, 3] for ResNet-34).

    Initialisation as torchvision: convs kaiming-normal with ``mode='fan_out'``, batchnorm
    weight 1 and bias 0, the ``fc`` layer PyTorch's default.  ``zero_init_residual=True``
    starts every block's last batchnorm at 0, so each block starts as the identity."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        with no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn_init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    m.weight.fill_(1.0)
                    m.bias.fill_(0.0)
            if zero_init_residual:
                for m in self.modules():
                    if isinstance(m, BasicBlock):
                        m.bn2.weight.fill_(0.0)

    def _make_layer(self, block, planes, blocks, stride=1):
        """One stage: the first block may change size and channels, the others keep them."""
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _no_pretrained(name, pretrained):
    if pretrained:
        raise ValueError(f"{name}(pretrained=True): {name} is trained from scratch; no "
                         "pretrained weights exist for it")


def _pretrained(name, model):
    """``model`` with torchvision's ImageNet weights for ``name``, converted once by
    ``python -m minitorch.vision.models.convert_torchvision`` (``pretrained.py`` says where the
    file goes and how it is checked); a clear error naming that command when it is missing."""
    model.load_state_dict(load_resnet_state(name))
    return model


def resnet18(pretrained=False, **kwargs):
    """ResNet-18: BasicBlocks [2, 2, 2, 2]; 11,689,512 parameters with the 1000-class head.
    ``kwargs`` go to :class:`ResNet` (``num_classes``, ``zero_init_residual``).
    ``pretrained=True`` loads torchvision's ImageNet weights once converted (``_pretrained``)."""
    model = ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)
    return _pretrained("resnet18", model) if pretrained else model


def resnet34(pretrained=False, **kwargs):
    """ResNet-34: BasicBlocks [3, 4, 6, 3]; 21,797,672 parameters with the 1000-class head;
    ``pretrained=True`` as for :func:`resnet18`."""
    model = ResNet(BasicBlock, [3, 4, 6, 3], **kwargs)
    return _pretrained("resnet34", model) if pretrained else model


def small_encoder(pretrained=False, in_channels=3, channels=(32, 64, 128, 256)):
    """A light U-Net encoder for training from scratch: for each width ``c`` in ``channels`` a
    ``conv_layer(c_in, c, stride=2)`` (halves the size) then a ``res_block(c)``, all in one flat
    ``Sequential`` (``[conv, res, conv, res, ...]``).  :class:`DynamicUnet` hooks the children
    after which the size changes: the res_blocks of every stage but the last.

    (32, 64, 128, 256) is the "small" U-Net;
    (16, 32, 64, 128) its "small16".  It is already a body: ``create_body`` keeps it whole."""
    _no_pretrained("small_encoder", pretrained)
    layers, c_in = [], in_channels
    for c in channels:
        layers += [conv_layer(c_in, c, stride=2), res_block(c)]
        c_in = c
    return nn.Sequential(*layers)


def small16(pretrained=False):
    """``small_encoder`` with 16, 32, 64, 128 channels: the super-resolution lessons' encoder,
    trained from scratch (its U-Net has 1.7 M parameters and costs a quarter of a GMAC per
    64-px image, a tenth of a ResNet-18 U-Net's)."""
    return small_encoder(pretrained, channels=(16, 32, 64, 128))
