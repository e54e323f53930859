"""The CIFAR-10 networks of He et al. (2015), "Deep Residual Learning for Image Recognition",
section 4.2: plain and residual nets of 6n + 2 layers.  Read after ``nn/`` (Conv2d,
BatchNorm2d, Sequential) and ``resnet.py`` (the ImageNet ResNets, whose shortcuts are 1×1
convs); the lessons ``lessons/paper_he2015_degradation.py`` and
``lessons/paper_li2018_loss_landscape.py`` train and probe them.

The paper's description, layer by layer (for a 32×32 CIFAR image; a 28×28 Fashion-MNIST
image goes 28 → 14 → 7 the same way)::

    conv 3×3, 16 filters → BN → ReLU                                     1 layer      32×32
    stage 1: n blocks, 16 filters                                        2n layers    32×32
    stage 2: n blocks, 32 filters, the first conv with stride 2          2n layers    16×16
    stage 3: n blocks, 64 filters, the first conv with stride 2          2n layers     8×8
    global average pool → 10-way fully connected layer                   1 layer

6n + 2 weighted layers: n = 3, 5, 7, 9 give 20, 32, 44, 56 layers.  A block is two 3×3 convs,
batchnorm after each, before the ReLU::

    plain:     out = relu(bn2(conv2(relu(bn1(conv1(x))))))
    residual:  out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))

The shortcut is the identity.  Where a block halves the map and doubles the filters, the paper's
CIFAR nets use "option A" (:class:`ShortcutA`): keep every other pixel (stride-2 subsampling)
and pad the new channels with zeros — no parameters at all, so the plain and the residual net
of one depth have exactly the same weights and differ only by the additions.

The convs have no bias (the batchnorm after each has its own shift).  Initialisation is the
paper's reference [13] (He et al. 2015, "Delving deep into rectifiers"): convs from
N(0, 2 / fan_in), batchnorm weight 1 and bias 0; the final linear layer keeps PyTorch's default.

The widths (16, 32, 64) are the paper's; ``widths=(8, 16, 32)`` makes the same nets four times
cheaper for a CPU.  Building a net draws its initial weights from minitorch's random generator:
seed it first (``minitorch.manual_seed``).
"""
from minitorch import nn
from minitorch.autograd import no_grad
from minitorch.nn import functional as F
from minitorch.nn import init as nn_init


def conv3x3(in_planes, out_planes, stride=1):
    """A 3×3 convolution with padding 1 and no bias (a batchnorm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class ShortcutA(nn.Module):
    """The paper's option A: the identity, made to fit a block that halves the map and goes from
    ``in_planes`` to ``planes`` channels.  ``x[:, :, ::2, ::2]`` keeps every other pixel of every
    other row (what a stride-2 conv sees at its centres), then zero channels are appended up to
    ``planes``.  No parameters."""

    def __init__(self, in_planes, planes):
        super().__init__()
        if planes < in_planes:
            raise ValueError(f"ShortcutA: option A only adds channels, got {in_planes} → {planes}")
        self.in_planes, self.planes = in_planes, planes

    def forward(self, x):
        # F.pad's amounts go last dim first: (left, right, top, bottom, front, back of the
        # channels) — nothing around the pixels, planes − in_planes zero channels after the rest.
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.planes - self.in_planes))

    def extra_repr(self):
        return f"{self.in_planes} → {self.planes} channels, stride 2, zero-padded"


class CifarBlock(nn.Module):
    """Two 3×3 convs with batchnorm; with ``residual`` the shortcut is added before the last ReLU.

    ``stride=2`` (the first block of stages 2 and 3) halves the map in the first conv; the
    shortcut then is :class:`ShortcutA`, otherwise the identity (``shortcut`` is None)."""

    def __init__(self, in_planes, planes, stride=1, residual=True):
        super().__init__()
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.residual = residual
        changes_shape = stride != 1 or in_planes != planes
        if changes_shape and stride != 2:
            raise ValueError(f"CifarBlock: a block that changes the channels must halve the map "
                             f"(stride 2), got stride {stride}")
        self.shortcut = ShortcutA(in_planes, planes) if residual and changes_shape else None

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.shortcut is None else self.shortcut(x))
        return self.relu(out)

    def extra_repr(self):
        return "residual" if self.residual else "plain"


class CifarResNet(nn.Module):
    """The 6n + 2-layer net of section 4.2: ``n`` blocks per stage, ``widths`` filters in the
    three stages, ``residual`` or plain.  Children: ``conv1``, ``bn1``, ``relu``, ``layer1`` …
    ``layer3`` (Sequentials of :class:`CifarBlock`), ``avgpool``, ``fc``."""

    def __init__(self, n, widths=(16, 32, 64), residual=True, in_channels=3, num_classes=10):
        super().__init__()
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"CifarResNet: n (blocks per stage) must be a positive int, got {n!r}")
        if len(widths) != 3:
            raise ValueError(f"CifarResNet: widths must give the three stages' filters, "
                             f"got {widths!r}")
        self.n, self.widths, self.residual = n, tuple(widths), residual
        self.conv1 = conv3x3(in_channels, widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        stages, in_planes = [], widths[0]
        for i, planes in enumerate(widths):
            stride = 1 if i == 0 else 2
            blocks = [CifarBlock(in_planes, planes, stride, residual)]
            blocks += [CifarBlock(planes, planes, 1, residual) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            in_planes = planes
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[2], num_classes)
        with no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn_init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    m.weight.fill_(1.0)
                    m.bias.fill_(0.0)

    @property
    def depth(self):
        """The number of weighted layers: 6n + 2."""
        return 6 * self.n + 2

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def blocks_per_stage(depth):
    """n for a net of ``depth`` = 6n + 2 layers (20 → 3, 56 → 9)."""
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"the CIFAR nets have 6n + 2 layers (8, 14, 20, 26, 32, 44, 56, ...), "
                         f"got depth {depth!r}")
    return (depth - 2) // 6


def cifar_resnet(depth, widths=(16, 32, 64), in_channels=3, num_classes=10):
    """The residual net of ``depth`` = 6n + 2 layers (ResNet-20: 269,722 parameters)."""
    return CifarResNet(blocks_per_stage(depth), widths, True, in_channels, num_classes)


def cifar_plain(depth, widths=(16, 32, 64), in_channels=3, num_classes=10):
    """The plain net of ``depth`` = 6n + 2 layers: the same layers and weights as
    :func:`cifar_resnet`, without the shortcuts."""
    return CifarResNet(blocks_per_stage(depth), widths, False, in_channels, num_classes)
