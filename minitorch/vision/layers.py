"""fastai v1's vision layers: the building blocks of the lesson's models.
Read after ``nn/`` (Conv2d, BatchNorm2d, Sequential) and before ``lessons/lesson7_resnet_mnist.py``.

* :func:`conv_layer` — conv → activation → batchnorm, the unit every model here is made of;
* :func:`res_block` — ``x + conv(conv(x))`` (ResNet), or ``cat([conv(conv(x)), x])`` (DenseNet);
  built from :class:`SequentialEx` and :class:`MergeLayer`;
* :class:`Flatten`, :class:`SigmoidRange`;
* :class:`SelfAttention` (SAGAN) and :class:`PixelShuffle_ICNR` (upsampling without the
  checkerboard), used by the U-Net and the GAN critic; :func:`batchnorm_2d` (fastai's start for
  the U-Net's batchnorms).
"""
import enum

from minitorch import nn
from minitorch.autograd import no_grad
from minitorch.nn import init as nn_init
from minitorch.ops import cat
from minitorch.tensor import zeros


class NormType(enum.Enum):
    """Which normalisation a conv_layer gets.

    ``Batch``: BatchNorm2d after the activation.  ``BatchZero``: the same with gamma starting at
    0, so the layer's output starts at zero (a residual branch then starts as the identity).
    ``Weight`` / ``Spectral``: weight normalisation / spectral normalisation of the conv itself
    (no batchnorm; the conv keeps its bias).
    """
    Batch = 1
    BatchZero = 2
    Weight = 3
    Spectral = 4


def relu(leaky=None):
    """``ReLU``, or ``LeakyReLU(leaky)`` when ``leaky`` is given."""
    return nn.LeakyReLU(negative_slope=leaky) if leaky is not None else nn.ReLU()


def batchnorm_2d(nf, norm_type=NormType.Batch):
    """A BatchNorm2d of ``nf`` channels as fastai v1 starts it: bias 1e-3, weight 1 (0 for
    ``NormType.BatchZero``).  The U-Net puts one on each skip connection and after its encoder."""
    bn = nn.BatchNorm2d(nf)
    with no_grad():
        bn.bias.fill_(1e-3)
        bn.weight.fill_(0.0 if norm_type == NormType.BatchZero else 1.0)
    return bn


def init_default(module, init=nn_init.kaiming_normal_):
    """Initialise ``module.weight`` with ``init`` and its bias with zeros; returns the module."""
    with no_grad():
        if init is not None and getattr(module, "weight", None) is not None:
            init(module.weight)
        if getattr(module, "bias", None) is not None:
            module.bias.fill_(0.0)
    return module


def conv_layer(ni, nf, ks=3, stride=1, padding=None, bias=None, is_1d=False,
               norm_type=NormType.Batch, use_activ=True, leaky=None, transpose=False,
               init=nn_init.kaiming_normal_, self_attention=False):
    """``Sequential(conv, ReLU, BatchNorm2d)`` from ``ni`` to ``nf`` channels, in fastai's order.

    The conv pads by ``(ks − 1) // 2`` (the spatial size is kept, or divided by ``stride``), has no
    bias when batchnorm follows (batchnorm's own shift makes it redundant), and starts from
    kaiming-normal weights (right for a ReLU after it).  The activation comes *before* the
    batchnorm, as fastai v1 does it.  ``norm_type=None`` means no normalisation;
    ``use_activ=False`` no activation; ``leaky`` a LeakyReLU; ``transpose`` a ConvTranspose2d
    (padding 0 by default); ``self_attention`` appends a :class:`SelfAttention`.
    """
    if is_1d:
        raise ValueError("conv_layer(is_1d=True): minitorch has no Conv1d; use a 2-d conv with "
                         "a kernel of height 1")
    if norm_type is not None and not isinstance(norm_type, NormType):
        raise ValueError(f"conv_layer: norm_type must be a NormType or None, got {norm_type!r}")
    if padding is None:
        padding = (ks - 1) // 2 if not transpose else 0
    batchnorm = norm_type in (NormType.Batch, NormType.BatchZero)
    if bias is None:
        bias = not batchnorm
    conv_class = nn.ConvTranspose2d if transpose else nn.Conv2d
    conv = init_default(conv_class(ni, nf, kernel_size=ks, stride=stride, padding=padding,
                                   bias=bias), init)
    if norm_type == NormType.Weight:
        conv = nn.utils.weight_norm(conv)
    elif norm_type == NormType.Spectral:
        conv = nn.utils.spectral_norm(conv)
    layers = [conv]
    if use_activ:
        layers.append(relu(leaky))
    if batchnorm:
        bn = nn.BatchNorm2d(nf)
        if norm_type == NormType.BatchZero:
            with no_grad():
                bn.weight.fill_(0.0)
        layers.append(bn)
    if self_attention:
        layers.append(SelfAttention(nf))
    return nn.Sequential(*layers)


class SequentialEx(nn.Module):
    """Like ``Sequential``, but every layer can see the block's original input as ``x.orig``.

    Before calling each layer the input tensor gets an attribute ``orig`` pointing to the input
    of the whole block; the last layer of a residual block (:class:`MergeLayer`) adds it back.
    The attribute is removed right after the call, so no tensor keeps another alive.
    """

    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        result = x
        for layer in self.layers:
            result.orig = x
            next_result = layer(result)
            result.orig = None
            result = next_result
        return result

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)


class MergeLayer(nn.Module):
    """The end of a residual block: ``x + x.orig``, or with ``dense=True`` the concatenation
    ``cat([x, x.orig], dim=1)`` (DenseNet), which doubles the channels."""

    def __init__(self, dense=False):
        super().__init__()
        self.dense = dense

    def forward(self, x):
        orig = getattr(x, "orig", None)
        if orig is None:
            raise RuntimeError("MergeLayer needs the block's input as x.orig: use it as the last "
                               "layer of a SequentialEx")
        return cat([x, orig], 1) if self.dense else x + orig

    def extra_repr(self):
        return f"dense={self.dense}"


def res_block(nf, dense=False, norm_type=NormType.Batch, bottle=False, **conv_kwargs):
    """A residual block of ``nf`` channels: ``x + conv_layer(conv_layer(x))`` (``dense``:
    concatenate instead of add, giving ``2·nf`` channels).  ``bottle`` halves the channels
    between the two convs; ``conv_kwargs`` go to both conv_layers.

    fastai v1's source asks for ``NormType.BatchZero`` on the second conv of a non-dense block,
    but its ``conv_layer`` built a plain BatchNorm2d for it, so the lesson's ResNets trained with
    gamma starting at 1 in both.  We build what the lesson trained; pass
    ``norm_type=NormType.BatchZero`` to start every branch at zero instead.
    """
    nf_inner = nf // 2 if bottle else nf
    return SequentialEx(conv_layer(nf, nf_inner, norm_type=norm_type, **conv_kwargs),
                        conv_layer(nf_inner, nf, norm_type=norm_type, **conv_kwargs),
                        MergeLayer(dense))


class Flatten(nn.Module):
    """(N, C, 1, 1) → (N, C): every dimension after the batch one in a row.  ``full=True``
    flattens the batch dimension too."""

    def __init__(self, full=False):
        super().__init__()
        self.full = full

    def forward(self, x):
        return x.reshape(-1) if self.full else x.reshape(x.shape[0], -1)

    def extra_repr(self):
        return "full=True" if self.full else ""


def sigmoid_range(x, low, high):
    """``sigmoid(x)`` stretched to the open interval (low, high)."""
    return x.sigmoid() * (high - low) + low


class SigmoidRange(nn.Module):
    """A layer that squeezes its input into (low, high): a regression head with a known range."""

    def __init__(self, low, high):
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x):
        return sigmoid_range(x, self.low, self.high)

    def extra_repr(self):
        return f"low={self.low}, high={self.high}"


def _conv1x1(ni, no):
    """A spectral-normed 1×1 conv without bias, kaiming-initialised: fastai's ``conv1d`` for
    self-attention (a 1×1 conv2d on (N, C, H, W) is exactly a conv1d on (N, C, H·W))."""
    return nn.utils.spectral_norm(init_default(nn.Conv2d(ni, no, 1, bias=False)))


class SelfAttention(nn.Module):
    """Self-attention over positions (Zhang et al. 2018, SAGAN), as in fastai v1.

    With x of shape (N, C, H, W) flattened to n = H·W positions, the 1×1 convs give
    ``f = query(x)`` and ``g = key(x)`` (C/8 channels) and ``h = value(x)`` (C channels)::

        β = softmax(fᵀ g)  over the first position axis     (N, n, n): β[i, j] = how much
                                                             position j attends to position i
        o = γ · h β + x                                      (N, C, n), back to (N, C, H, W)

    γ is a learned scalar starting at 0, so the block starts as the identity and the network
    learns how much non-local information to mix in.
    """

    def __init__(self, n_channels):
        super().__init__()
        if n_channels < 8:
            raise ValueError(f"SelfAttention needs at least 8 channels (query and key have "
                             f"C // 8), got {n_channels}")
        self.query = _conv1x1(n_channels, n_channels // 8)
        self.key = _conv1x1(n_channels, n_channels // 8)
        self.value = _conv1x1(n_channels, n_channels)
        self.gamma = nn.Parameter(zeros(1))

    def forward(self, x):
        n, c = x.shape[0], x.shape[1]
        f = self.query(x).reshape(n, c // 8, -1)
        g = self.key(x).reshape(n, c // 8, -1)
        h = self.value(x).reshape(n, c, -1)
        beta = (f.transpose(1, 2) @ g).softmax(1)
        out = self.gamma * (h @ beta) + x.reshape(n, c, -1)
        return out.reshape(*x.shape)


def icnr(weight, scale=2, init=nn_init.kaiming_normal_):
    """ICNR initialisation (Aitken et al. 2017) of a conv weight (ni, nf, h, w) that feeds a
    pixel shuffle by ``scale``: draw ``ni / scale²`` kernels with ``init`` and give each to
    ``scale²`` consecutive output channels.  Those are the channels the shuffle spreads over one
    ``scale × scale`` block, so at the start the upsampling is a nearest-neighbour upsample of a
    plain conv: no checkerboard pattern."""
    ni, nf, h, w = weight.shape
    if ni % (scale ** 2):
        raise ValueError(f"icnr: {ni} output channels is not a multiple of scale² = {scale ** 2}")
    kernels = zeros(ni // scale ** 2, nf, h, w, dtype=weight.dtype, device=weight.device)
    init(kernels)
    with no_grad():
        weight.copy_(kernels.array.repeat(scale ** 2, axis=0))


class PixelShuffle_ICNR(nn.Module):
    """Upsample by ``scale`` from ``ni`` to ``nf`` channels (default ``ni``): a 1×1 conv to
    ``nf·scale²`` channels (weight-normed by default, ICNR-initialised), ReLU, pixel shuffle;
    with ``blur``, replication-pad left and top by 1 then average 2×2 with stride 1 (Sugawara
    et al. 2018: removes what checkerboard remains).

    The children are fastai v1.0.61's: ``conv``, ``shuf``, ``pad``, ``blur`` (the average pool,
    always built) and ``relu``; the flag is ``do_blur``.  (In the lesson's 1.0.37 the flag and
    the pool shared the name ``blur``, so blur was always on.)  One deliberate difference: with
    weight norm, fastai v1 wrote the ICNR kernels into ``weight``, which weight norm recomputes
    from g and v at the next call, so the ICNR start was lost (fixed in fastai v2, as here)."""

    def __init__(self, ni, nf=None, scale=2, blur=False, norm_type=NormType.Weight, leaky=None):
        super().__init__()
        nf = ni if nf is None else nf
        self.conv = conv_layer(ni, nf * scale ** 2, ks=1, norm_type=norm_type, use_activ=False)
        conv = self.conv[0]
        if norm_type == NormType.Weight:
            # The weight is recomputed from (g, v) at every call: initialise v, and set g to the
            # lengths of v's rows so that the weight starts equal to v.
            icnr(conv.weight_v, scale)
            with no_grad():
                v = conv.weight_v.array
                conv.weight_g.copy_(((v ** 2).sum(axis=(1, 2, 3), keepdims=True)) ** 0.5)
        elif norm_type == NormType.Spectral:
            icnr(conv.weight_orig, scale)
        else:
            icnr(conv.weight, scale)
        self.shuf = nn.PixelShuffle(scale)
        self.pad = nn.ReplicationPad2d((1, 0, 1, 0))
        self.blur = nn.AvgPool2d(2, stride=1)
        self.do_blur = blur
        self.relu = relu(leaky)

    def forward(self, x):
        x = self.shuf(self.relu(self.conv(x)))
        return self.blur(self.pad(x)) if self.do_blur else x
