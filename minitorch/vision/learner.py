"""fastai v1's ``vision/learner.py`` for the U-Net: cut a classifier into a body (``create_body``),
know where to cut and split each architecture (``cnn_config``), and build a Learner around a
DynamicUnet (``unet_learner``).  Read after ``vision/models/`` and ``learner/learner.py``
(layer groups, ``freeze``, ``slice`` learning rates).

A network pretrained on ImageNet ends in a classifier head (global pool + linear) that a U-Net
has no use for.  ``create_body(arch, pretrained, cut)`` builds ``arch`` and keeps its children
up to ``cut``: for a ResNet ``cut=-2`` drops ``avgpool`` and ``fc``, leaving ``conv1 … layer4``.

Each architecture also says how to split the model into *layer groups* for discriminative
learning rates and freezing (``model_meta``).  For a U-Net ``m`` on a ResNet the split points
are ``(m[0][6], m[1])``: group 0 is the encoder up to ``layer2``, group 1 is ``layer3`` and
``layer4``, group 2 the whole decoder (from the batchnorm after the encoder).  So::

    learn = unet_learner(data, vgg16, blur=True, norm_type=NormType.Weight, ...)
    learn.fit_one_cycle(10, 1e-3, pct_start=0.9)     # pretrained: only the decoder trains
    learn.unfreeze()
    learn.fit_one_cycle(10, slice(1e-5, 1e-3))         # 1e-5, 1e-4, 1e-3 for the three groups

The VGG16 row puts the input map of its pretrained weights (``VGGInput``: ImageNet-normalised →
0–255 minus VGG's mean) in front of the features, so a body on ImageNet-normalised data sees
what the weights were trained on.
"""
import re

from minitorch import nn
from minitorch.learner import Learner
from minitorch.nn.hooks import in_channels
from minitorch.vision.models.resnet import resnet18, resnet34, small16, small_encoder
from minitorch.vision.models.vgg import VGGInput, vgg16
from minitorch.vision.models.unet import DynamicUnet


# ---- where to cut and split each architecture -----------------------------------------------------
def _default_split(m):
    """By default: the body, then the rest."""
    return (m[1],)


def _resnet_split(m):
    """conv1 … layer2 | layer3, layer4 | the head (for a U-Net: the decoder)."""
    return (m[0][6], m[1])


def _small_split(m):
    """The first two stages | the last two | the head."""
    return (m[0][4], m[1])


def _vgg16_body(model):
    """VGG16's ``features`` (all 31 layers, to the last max pool), flat, after ``VGGInput``."""
    return nn.Sequential(VGGInput(), *model.features.children())


def _vgg16_split(m):
    """fastai splits its batch-normed VGGs at the ReLU after conv3_3 (``features[22]`` of
    vgg16_bn); without batchnorm that ReLU is ``features[15]``, the body's child 16."""
    return (m[0][16], m[1])


def _whole(model):
    """The model is already a body."""
    return model


_resnet_meta = {"cut": -2, "split": _resnet_split}
_default_meta = {"cut": None, "split": _default_split}


def model_meta():
    """``{arch: {'cut': int or function, 'split': function}}`` for the architectures minitorch
    has (fastai's ``model_meta``)."""
    return {resnet18: dict(_resnet_meta), resnet34: dict(_resnet_meta),
            small_encoder: {"cut": _whole, "split": _small_split},
            small16: {"cut": _whole, "split": _small_split},
            vgg16: {"cut": _vgg16_body, "split": _vgg16_split}}


def cnn_config(arch):
    """The cut and split of ``arch`` (a default that cuts before the last pooling layer and
    splits between the body and the head for architectures it does not know)."""
    return model_meta().get(arch, _default_meta)


def _has_pool_type(m):
    if re.search(r"Pool[123]d$", type(m).__name__):
        return True
    return any(_has_pool_type(child) for child in m.children())


def create_body(arch, pretrained=False, cut=None):
    """``arch(pretrained)`` cut to a body: ``cut`` an int keeps ``children()[:cut]`` as a
    Sequential, a function ``cut(model)`` returns the body; ``None`` takes ``cnn_config``'s, or
    for an unknown architecture cuts before its last child that contains a pooling layer."""
    model = arch(pretrained)
    cut = cut if cut is not None else cnn_config(arch)["cut"]
    children = list(model.children())
    if cut is None:
        pooled = [i for i, child in enumerate(children) if _has_pool_type(child)]
        if not pooled:
            raise ValueError(f"create_body: {getattr(arch, '__name__', arch)} has no pooling "
                             "layer to cut before; give cut (an int or a function)")
        cut = pooled[-1]
    if isinstance(cut, bool) or not (isinstance(cut, int) or callable(cut)):
        raise ValueError(f"create_body: cut must be an int or a function, got {cut!r}")
    return nn.Sequential(*children[:cut]) if isinstance(cut, int) else cut(model)


# ---- the U-Net learner ---------------------------------------------------------------------------


def _n_outputs(data):
    """``data.c``, or for image targets without one, the targets' channels."""
    c = getattr(data, "c", None)
    if c is not None:
        return c
    yb = next(iter(data.train_dl))[1]
    if len(yb.shape) != 4:
        raise ValueError("unet_learner: the data has no `c` (number of output channels) and its "
                         f"targets are not images (shape {tuple(yb.shape)})")
    return yb.shape[1]


def _image_size(xb, body, arch):
    """The (height, width) of a training batch ``xb`` (fastai: of the first training item),
    whose channels must be those the body's first convolution takes: refused here, by name,
    rather than deep inside the decoder (a grey batch would go through VGG16's input map as
    three channels, and only the concatenation of the input before the last block would find
    two channels missing)."""
    wanted = in_channels(body)
    if len(xb.shape) != 4 or xb.shape[1] != wanted:
        raise ValueError(f"unet_learner: {getattr(arch, '__name__', arch)}'s body takes images of "
                         f"{wanted} channels, the data's batches have shape {tuple(xb.shape)}; "
                         "open grey images with convert_mode='RGB' for a pretrained body")
    return tuple(xb.shape[-2:])


def unet_learner(data, arch, pretrained=True, blur_final=True, norm_type=None, split_on=None,
                 blur=False, self_attention=False, y_range=None, last_cross=True, bottle=False,
                 cut=None, residual=False, blur_last_shuffle=False, keep_grey=None,
                 **learn_kwargs):
    """A Learner training a :class:`DynamicUnet` on ``create_body(arch, pretrained, cut)``, built
    for the size of the training images, with ``data.c`` output channels.

    The options go to DynamicUnet (``norm_type=None``, fastai's default here, means no
    normalisation in the decoder's convs and pixel shuffles; the lesson passes
    ``NormType.Weight``; ``residual`` is minitorch's global residual head, ``keep_grey`` its
    colour gate, ``blur_last_shuffle`` its blur on the last pixel shuffle);
    ``learn_kwargs`` to the Learner (``loss_func``, ``metrics``, ``wd``, ``callbacks``, ...).
    The layer groups come from ``split_on`` or the architecture's split; a pretrained body
    starts frozen (only the decoder, and the encoder's batchnorms, train)."""
    meta = cnn_config(arch)
    body = create_body(arch, pretrained, cut)
    img_size = _image_size(next(iter(data.train_dl))[0], body, arch)
    model = DynamicUnet(body, n_classes=_n_outputs(data), img_size=img_size, blur=blur,
                        blur_final=blur_final, self_attention=self_attention, y_range=y_range,
                        norm_type=norm_type, last_cross=last_cross, bottle=bottle,
                        residual=residual, blur_last_shuffle=blur_last_shuffle,
                        keep_grey=keep_grey)
    learn = Learner(data, model, **learn_kwargs)
    learn.split(split_on if split_on is not None else meta["split"])
    if pretrained:
        learn.freeze()
    # fastai then calls apply_init(model[2], kaiming_normal_): model[2] is a ReLU, so it does
    # nothing; the decoder keeps the initialisation its layers gave it.
    return learn
