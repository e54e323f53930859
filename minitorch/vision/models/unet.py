"""fastai v1's U-Net (``DynamicUnet``), built around any encoder.  Read after ``resnet.py``,
``vision/layers.py`` (conv_layer, PixelShuffle_ICNR, res_block, SequentialEx, MergeLayer) and
``nn/hooks.py`` (hook_outputs, model_sizes).  The learner that trains it is
``vision/learner.py`` (``unet_learner``).

A U-Net (Ronneberger et al. 2015) is an encoder that shrinks the image to a small grid of many
channels and a decoder that grows it back, where each decoder step also sees the encoder's
activation of the same size (a *cross connection*, or skip), so fine detail lost on the way down
is available on the way up.  fastai's *dynamic* U-Net works out the decoder from the encoder it
is given (Lesson 7)::

    1. Push a dummy image of ``img_size`` through the encoder; each child's output shape says
       where the resolution changes (``model_sizes``, ``_get_sfs_idxs``).
    2. Hook the children just before each change: their outputs are the skips (``hook_outputs``).
    3. encoder → BatchNorm → ReLU → middle conv (ni → 2ni → ni)
       → one UnetBlock per hook, deepest first:
            up   = PixelShuffle_ICNR(x)              (2× larger, half the channels)
            up   = nearest-resize(up) if its size differs from the skip's (odd sizes)
            x    = conv2(conv1(ReLU(cat[up, BatchNorm(skip)])))
       → PixelShuffle_ICNR to the input's size (when the first skip is smaller than the image)
       → (last_cross) cat[x, input] → res_block → 1×1 conv to ``n_classes`` → SigmoidRange.

With a ResNet-34 body the skips are the stem's ReLU (64 ch, 1/2), layer1 (64, 1/4), layer2 (128,
1/8) and layer3 (256, 1/16); the blocks output 512, 384, 256 and 96 channels.

The sizes are the input's, not the ones seen at construction: each UnetBlock reads its skip's
size at every call, and the last resize matches the input, so a U-Net built at 64×64 predicts
on a whole 480×320 photo, or a 65×97 one.

**Differences from fastai v1.0.61**, all deliberate: (1) the final resize (fastai: a ``Lambda``
to the construction size, present only when that size needed it) is always there and goes to
the *input's* size, doing nothing when the sizes agree — without it a model built at one size
cannot predict at an odd one; (2) the model is left in training mode after construction (fastai
leaves the encoder and the blocks in eval mode from its dummy pass); (3) ``residual=True``, a
global residual head, ``keep_grey``, its colour gated by the input's (a grey photo stays grey:
:class:`ColourGatedMerge`), and ``blur_last_shuffle=True``, a blur after the pixel shuffle up to
the input's size, are options beyond fastai (see :class:`DynamicUnet`).  The parameters and their
counts are fastai's exactly (tested against its formula).
"""
import numbers

from minitorch import nn
from minitorch.autograd import no_grad
from minitorch.nn import functional as F
from minitorch.nn.hooks import dummy_eval, hook_outputs, in_channels, model_sizes
from minitorch.ops import cat
from minitorch.tensor import tensor
from minitorch.vision.layers import (
    MergeLayer, NormType, PixelShuffle_ICNR, SequentialEx, SigmoidRange, batchnorm_2d, conv_layer,
    relu, res_block)
from minitorch.vision.quality import LUMA  # Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601)


def _get_sfs_idxs(sizes):
    """The indices ``i`` of the children whose output width differs from child ``i + 1``'s: the
    last activation before each change of resolution.  fastai v1 also puts 0 in front when the
    first two children differ — which repeats 0 (it is already in the list); kept as fastai
    has it, so an encoder whose *first* child already shrinks the image gets two blocks on that
    skip (``small_encoder`` is built so that this does not happen)."""
    feature_szs = [size[-1] for size in sizes]
    sfs_idxs = [i for i in range(len(feature_szs) - 1) if feature_szs[i] != feature_szs[i + 1]]
    if feature_szs[0] != feature_szs[1]:
        sfs_idxs = [0] + sfs_idxs
    return sfs_idxs


class UnetBlock(nn.Module):
    """One decoder step: upsample ``up_in_c`` channels 2× with a pixel shuffle (to
    ``up_in_c // 2``), concatenate the batch-normed skip (``x_in_c`` channels) that ``hook``
    stored, ReLU, two conv_layers.  ``final_div=False`` (the last block) halves the channels
    in the convs; ``self_attention`` puts a SelfAttention after the second conv.  ``kwargs``
    (``norm_type``) go to the pixel shuffle and both convs."""

    def __init__(self, up_in_c, x_in_c, hook, final_div=True, blur=False, leaky=None,
                 self_attention=False, **kwargs):
        super().__init__()
        self.hook = hook  # not a Module: holds the skip's activation after each encoder pass
        self.shuf = PixelShuffle_ICNR(up_in_c, up_in_c // 2, blur=blur, leaky=leaky, **kwargs)
        self.bn = batchnorm_2d(x_in_c)
        ni = up_in_c // 2 + x_in_c
        nf = ni if final_div else ni // 2
        self.conv1 = conv_layer(ni, nf, leaky=leaky, **kwargs)
        self.conv2 = conv_layer(nf, nf, leaky=leaky, self_attention=self_attention, **kwargs)
        self.relu = relu(leaky)

    def forward(self, up_in):
        s = self.hook.stored
        if s is None:
            raise RuntimeError("UnetBlock: its skip connection holds nothing; the encoder must "
                               "run first (call the whole DynamicUnet, not one block)")
        up_out = self.shuf(up_in)
        if tuple(s.shape[-2:]) != tuple(up_out.shape[-2:]):
            # An odd size upstream (e.g. 65 → 33 → 17): 2× of the deeper grid is one pixel off.
            up_out = F.interpolate(up_out, size=tuple(s.shape[-2:]), mode="nearest")
        cat_x = self.relu(cat([up_out, self.bn(s)], 1))
        return self.conv2(self.conv1(cat_x))


class ResizeToInput(nn.Module):
    """Inside a SequentialEx: nearest-resize ``x`` to the spatial size of the block's input
    (``x.orig``) when they differ; otherwise return ``x`` unchanged."""

    def forward(self, x):
        orig = getattr(x, "orig", None)
        if orig is None:
            raise RuntimeError("ResizeToInput needs the block's input as x.orig: use it inside "
                               "a SequentialEx")
        size = tuple(orig.shape[-2:])
        return x if tuple(x.shape[-2:]) == size else F.interpolate(x, size=size, mode="nearest")


class ColourGatedMerge(nn.Module):
    r"""The residual head's sum ``x.orig + x`` for RGB images normalised with ``stats`` (mean, std
    per channel), with the *colour* of the correction let through only where the input has
    colour: on a grey photo the U-Net can change the brightness, not the hue.

    A U-Net's three output channels are free, so a correction made for a grey input is never
    exactly the same in R, G and B: the lesson's U-Nets added 0.6 (MSE) and 1.6 (feature loss)
    grey levels of colour to grey photos, and in PyTorch's twin of the lesson neither grey
    training tiles, nor pairs turned partly grey, nor one normalisation for all channels, nor a
    colour-blind VGG16 in the feature loss brought it under 1.2 (lessons/README.md, "A grey
    photo stays grey").  So the head is built to keep it.  In pixels — the input
    ``p = orig · std + mean``, the correction ``c = x · std``::

        brightness   b = Y(c) = 0.299 c_R + 0.587 c_G + 0.114 c_B   (the same in R, G and B)
        colour       c − b                                           (no brightness of its own)
        gate         g = min(1, max over R, G, B of |p − Y(p)| / tau)   (0 where p is grey)
        output       p + b + g · (c − b), normalised again with ``stats``.

    Where the input's colour is at least ``tau`` (0.03: 7.7 grey levels from its luminance) the
    head is ``orig + x`` exactly; on grey input it adds ``b`` to all three channels.  The gate
    depends on the input only, so for the U-Net's correction the head is linear: with w the
    luminance weights, out_j = p_j + g c_j + (1 − g) Σ_k w_k c_k, hence (per pixel)

        dL/dc_k = g · dL/dout_k + (1 − g) · w_k · Σ_j dL/dout_j

    — the whole gradient where the input is colourful, only its brightness where it is grey.
    """

    def __init__(self, stats, tau=0.03):
        super().__init__()
        mean, std = _stats_pair(stats, "ColourGatedMerge")
        if not tau > 0:
            raise ValueError(f"ColourGatedMerge: tau (the colour that opens the gate, in [0, 1] "
                             f"pixels) must be > 0, got {tau!r}")
        self.stats, self.tau = (mean, std), float(tau)
        # float64, cast to the input's dtype at each call (as VGGInput's map)
        for name, value in (("mean", mean), ("std", std), ("luma", LUMA)):
            self.register_buffer(name, tensor(value, dtype="float64").view(1, 3, 1, 1),
                                 persistent=False)

    def forward(self, x):
        orig = getattr(x, "orig", None)
        if orig is None:
            raise RuntimeError("ColourGatedMerge needs the block's input as x.orig: use it as the "
                               "last layer of a SequentialEx")
        if x.ndim != 4 or x.shape[1] != 3 or tuple(orig.shape) != tuple(x.shape):
            raise ValueError(f"ColourGatedMerge: expected the correction and the input as RGB "
                             f"batches (N, 3, H, W) of one shape, got {tuple(x.shape)} and "
                             f"{tuple(orig.shape)}")
        mean, std, luma = (b.to(dtype=x.dtype) for b in (self.mean, self.std, self.luma))
        pixels = orig * std + mean
        change = x * std
        brightness = (change * luma).sum(1, keepdim=True)
        colour = (pixels - (pixels * luma).sum(1, keepdim=True)).abs().max(1, keepdim=True)[0]
        gate = (colour / self.tau).clamp(max=1.0)
        return (pixels + brightness + (change - brightness) * gate - mean) / std

    def extra_repr(self):
        return f"stats={self.stats}, tau={self.tau}"


def _stats_pair(stats, caller):
    """``stats`` as two lists of 3 floats (mean, std), or a clear error."""
    try:
        mean, std = ([float(v) for v in row] for row in stats)
    except (TypeError, ValueError):
        mean = std = None
    if mean is None or len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"{caller}: expected the normalisation statistics as (mean, std), three "
                         f"numbers each (std > 0), e.g. imagenet_stats; got {stats!r}")
    return mean, std


def _zero_last_conv(layer):
    """Make a final ``conv_layer`` output exactly zero at the start: its batchnorm's weight 0
    when it has one, else the conv's weight (weight norm: its lengths g) and bias 0."""
    conv, norm = layer[0], (layer[-1] if isinstance(layer[-1], nn.BatchNorm2d) else None)
    with no_grad():
        if norm is not None:
            norm.weight.fill_(0.0)
            norm.bias.fill_(0.0)
            return
        if "weight_orig" in conv._parameters:
            raise ValueError("DynamicUnet(residual=True): a spectral-normed last conv cannot start "
                             "at zero (its weight is divided by its largest singular value); "
                             "use another norm_type")
        name = "weight_g" if "weight_g" in conv._parameters else "weight"
        getattr(conv, name).fill_(0.0)
        if conv.bias is not None:
            conv.bias.fill_(0.0)


class DynamicUnet(SequentialEx):
    """fastai v1's U-Net on ``encoder`` (an ``nn.Sequential`` whose children are hooked), for
    ``n_classes`` output channels, built for ``img_size`` (height, width; predicting at another
    size works too).

    ``blur``: blur after each UnetBlock's pixel shuffle (``blur_final=False`` spares the last
    block's).  The pixel shuffle *after* the blocks, up to the input's size, is never blurred in
    fastai (v1 and v2); ``blur_last_shuffle=True`` (beyond fastai) blurs it too.  It is the only
    upsampling that writes at the output's own resolution, so what its four sub-kernels learn
    apart is a pattern of exactly 2 output pixels, which the full-resolution convs after it carry
    to the output.  Measured on the super-resolution lesson (feature loss, 468 steps from the
    MSE U-Net, two draws): the checkerboard grew from 0.38 to 3.78 and 6.19× the photos'
    period-2 energy without the blur and stayed at 0.21–0.25 with it (``lessons/README.md``).
    A U-Net whose first skip is already at the input's size has no such shuffle, and the flag
    does nothing.
    ``self_attention``: a SelfAttention in the third block from the end; ``y_range``: squash the
    output into (low, high) with SigmoidRange; ``last_cross``: concatenate the input before a
    final res_block (``bottle`` halves its inner channels).  ``kwargs`` go, as in fastai, to every
    conv_layer, PixelShuffle_ICNR and res_block: ``norm_type`` (a :class:`NormType` or None;
    when not given each layer keeps its own default — BatchNorm for the convs, weight norm for
    the pixel shuffles) and ``leaky``.

    ``residual=True`` (beyond fastai): the output is ``input + U-Net(input)``, the last conv
    starting at zero, so the untrained model is the identity.  For super-resolution the input is
    the enlarged low-resolution image, so training starts from bicubic instead of from noise
    (measured in PyTorch on a 2-core CPU: from scratch in 5 minutes fastai's head only reached
    bicubic, the residual head gained ~0.5 dB).  Needs ``n_classes`` equal to the
    input's channels, and no ``y_range`` (the sum is not squashed).  ``keep_grey=stats`` (beyond
    fastai; needs ``residual=True`` and RGB): the sum is a :class:`ColourGatedMerge` for images
    normalised with ``stats``, so a grey input gives a grey output.

    The skips are read through forward hooks on the encoder, *not detached* (fastai 1.0.61),
    so gradients flow through them into the encoder; the lesson's fastai 1.0.37 detached them,
    so its encoder only learned through the bottom of the U.  The hooks live as long as the
    model: ``remove_hooks()`` takes them off the encoder, and deleting the model does too.
    """

    def __init__(self, encoder, n_classes, img_size=(256, 256), blur=False, blur_final=True,
                 self_attention=False, y_range=None, last_cross=True, bottle=False,
                 residual=False, blur_last_shuffle=False, keep_grey=None, **kwargs):
        imsize = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if len(imsize) != 2:
            raise ValueError(f"DynamicUnet: img_size must be (height, width), got {img_size!r}")
        if not (isinstance(n_classes, numbers.Integral) and not isinstance(n_classes, bool)
                and n_classes >= 1):
            raise ValueError(f"DynamicUnet: n_classes (the output channels) must be a positive "
                             f"integer, got {n_classes!r}")
        n_in = in_channels(encoder)
        if residual and y_range is not None:
            raise ValueError("DynamicUnet(residual=True) adds the input to the output, which "
                             f"y_range={y_range!r} would not bound; pass y_range=None")
        if residual and n_classes != n_in:
            raise ValueError(f"DynamicUnet(residual=True) adds the input to the output: "
                             f"n_classes must equal the input's {n_in} channels, got {n_classes}")
        if keep_grey is not None:
            if not residual or n_classes != 3:
                raise ValueError("DynamicUnet(keep_grey=...) gates the colour of the residual "
                                 "head's correction: it needs residual=True and RGB images "
                                 f"(n_classes 3), got residual={residual}, n_classes={n_classes}")
            keep_grey = [list(row) for row in _stats_pair(keep_grey, "DynamicUnet(keep_grey)")]
        sfs_szs = model_sizes(encoder, size=imsize)
        sfs_idxs = list(reversed(_get_sfs_idxs(sfs_szs)))
        if not sfs_idxs:
            raise ValueError("DynamicUnet: the encoder's children never change the resolution "
                             f"(output sizes {sfs_szs}), so there is nothing to hook")
        # detach=False: the skips carry gradients back into the encoder (see the docstring).
        sfs = hook_outputs([encoder[i] for i in sfs_idxs], detach=False)

        with no_grad():  # the dummy pass only tells each block how many channels it gets
            x = dummy_eval(encoder, imsize)
            ni = sfs_szs[-1][1]
            middle_conv = nn.Sequential(conv_layer(ni, ni * 2, **kwargs),
                                        conv_layer(ni * 2, ni, **kwargs)).eval()
            x = middle_conv(x)
            layers = [encoder, batchnorm_2d(ni), nn.ReLU(), middle_conv]

            for i, idx in enumerate(sfs_idxs):
                not_final = i != len(sfs_idxs) - 1
                up_in_c, x_in_c = int(x.shape[1]), int(sfs_szs[idx][1])
                do_blur = blur and (not_final or blur_final)
                sa = self_attention and (i == len(sfs_idxs) - 3)
                unet_block = UnetBlock(up_in_c, x_in_c, sfs[i], final_div=not_final,
                                       blur=do_blur, self_attention=sa, **kwargs).eval()
                layers.append(unet_block)
                x = unet_block(x)

        ni = x.shape[1]
        if imsize != tuple(sfs_szs[0][-2:]):
            layers.append(PixelShuffle_ICNR(ni, blur=blur_last_shuffle, **kwargs))
        layers.append(ResizeToInput())
        if last_cross:
            layers.append(MergeLayer(dense=True))
            ni += n_in
            layers.append(res_block(ni, bottle=bottle, **kwargs))
        final_conv = conv_layer(ni, n_classes, ks=1, use_activ=False, **kwargs)
        layers.append(final_conv)
        if y_range is not None:
            layers.append(SigmoidRange(*y_range))
        if residual:
            _zero_last_conv(final_conv)
            # x + x.orig: the input added back (its colour gated with keep_grey)
            layers.append(MergeLayer(dense=False) if keep_grey is None
                          else ColourGatedMerge(keep_grey))
        super().__init__(*layers)
        self.sfs = sfs
        # What the decoder was built with, so that a saved model can be rebuilt around its
        # encoder (``vision/superres.py``'s ``save_generator``/``load_generator``).
        self.options = {"n_classes": n_classes, "img_size": list(imsize), "blur": blur,
                        "blur_final": blur_final, "self_attention": self_attention,
                        "y_range": None if y_range is None else list(y_range),
                        "last_cross": last_cross, "bottle": bottle, "residual": residual,
                        "blur_last_shuffle": blur_last_shuffle, "keep_grey": keep_grey,
                        **{k: getattr(v, "name", v) for k, v in kwargs.items()}}
        self.train()  # a new model trains (the dummy pass left parts in eval mode)

    def forward(self, x):
        # Refused before the encoder runs (and updates its batchnorm statistics for nothing).
        if any(hook.removed for hook in self.sfs):
            raise RuntimeError("DynamicUnet: its hooks were removed (remove_hooks()), so the "
                               "encoder no longer hands its activations to the decoder; this "
                               "model cannot run any more (build a new DynamicUnet)")
        return super().forward(x)

    def remove_hooks(self):
        """Take the skip hooks off the encoder and drop what they hold (the model cannot run
        afterwards: its blocks would find no skip)."""
        if hasattr(self, "sfs"):
            self.sfs.remove()
            for hook in self.sfs:
                hook.stored = None

    def __del__(self):
        self.remove_hooks()
