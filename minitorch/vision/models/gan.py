"""The GAN models of fastai v1 (``fastai.vision.gan``): a DCGAN-style generator and critic, and the
spectral-normed critic of the super-resolution GAN.  Read after ``vision/layers.py``
(``conv_layer``, ``res_block``, ``SelfAttention``) and before ``vision/gan.py``.

* :func:`basic_generator` — noise (N, noise_sz, 1, 1) → image (N, n_channels, in_size, in_size):
  a transposed conv to 4×4, then transposed convs that double the size and halve the channels,
  each followed by ReLU and batchnorm, and a last transposed conv + tanh (pixels in [−1, 1]).
* :func:`basic_critic` — the mirror image: strided convs with LeakyReLU(0.2) down to 4×4, a 4×4
  conv to one number per image, and the *mean over the batch* (the Wasserstein critic scores a
  batch, not an image).
* :func:`gan_critic` — the super-resolution GAN's critic: every conv spectral-normed with
  LeakyReLU(0.2), dropout, a dense residual block, self-attention, and one logit per patch.

Parameter counts (every conv has ``ni·nf·ks²`` weights; a conv without batchnorm after it has a
bias; a batchnorm has 2·nf): see ``tests/test_gan_models.py``, which checks them by formula.
"""
from minitorch import nn
from minitorch.nn import init as nn_init
from minitorch.vision.layers import Flatten, NormType, conv_layer, init_default, res_block


def conv2d(ni, nf, ks=3, stride=1, padding=None, bias=False, init=nn_init.kaiming_normal_):
    """fastai's ``conv2d``: a ``Conv2d`` padded by ``ks // 2``, *without* a bias by default, with
    kaiming-normal weights."""
    if padding is None:
        padding = ks // 2
    return init_default(nn.Conv2d(ni, nf, kernel_size=ks, stride=stride, padding=padding,
                                  bias=bias), init)


def conv2d_trans(ni, nf, ks=2, stride=2, padding=0, bias=False):
    """fastai's ``conv2d_trans``: a plain ``ConvTranspose2d`` (PyTorch's default init), no bias."""
    return nn.ConvTranspose2d(ni, nf, kernel_size=ks, stride=stride, padding=padding, bias=bias)


class AvgFlatten(nn.Module):
    """The mean of the whole batch's scores as a 1-element tensor: ``x.mean(0).view(1)``
    (fastai's ``AvgFlatten``; the WGAN critic's estimate of E[critic(x)])."""

    def forward(self, x):
        return x.mean(0).view(1)


def _check_size(name, in_size, smallest):
    if not isinstance(in_size, int) or in_size < smallest or in_size & (in_size - 1):
        raise ValueError(f"{name}: in_size must be a power of two, at least {smallest}, got "
                         f"{in_size!r}")


def basic_critic(in_size, n_channels, n_features=64, n_extra_layers=0, norm_type=NormType.Batch,
                 **conv_kwargs):
    """A critic for images ``n_channels × in_size × in_size`` whose output is one number: the mean
    over the batch of each image's score.

    conv 4/2/1 (LeakyReLU 0.2, no norm) → ``n_extra_layers`` 3×3 conv_layers (in a Sequential,
    empty when there are none, as in fastai, so that state-dict names match) → 4/2/1 conv_layers
    doubling the channels until the image is 4×4 → ``conv2d(C, 1, 4, padding=0)`` → AvgFlatten.
    The conv_layers after the first get ``norm_type`` (fastai v2's argument; v1 had it fixed to
    batchnorm): ``norm_type=None`` is the critic of a WGAN with a gradient penalty, which scores
    every image on its own (batchnorm would mix the images of a batch; see ``GradientPenalty``).
    """
    _check_size("basic_critic", in_size, 8)
    layers = [conv_layer(n_channels, n_features, 4, 2, 1, leaky=0.2, norm_type=None,
                         **conv_kwargs)]
    cur_size, cur_ftrs = in_size // 2, n_features
    layers.append(nn.Sequential(*[conv_layer(cur_ftrs, cur_ftrs, 3, 1, leaky=0.2,
                                             norm_type=norm_type, **conv_kwargs)
                                  for _ in range(n_extra_layers)]))
    while cur_size > 4:
        layers.append(conv_layer(cur_ftrs, cur_ftrs * 2, 4, 2, 1, leaky=0.2, norm_type=norm_type,
                                 **conv_kwargs))
        cur_ftrs *= 2
        cur_size //= 2
    layers += [conv2d(cur_ftrs, 1, 4, padding=0), AvgFlatten()]
    return nn.Sequential(*layers)


def basic_generator(in_size, n_channels, noise_sz=100, n_features=64, n_extra_layers=0,
                    **conv_kwargs):
    """A generator from noise (N, noise_sz, 1, 1) to images (N, n_channels, in_size, in_size).

    The 4×4 stage has ``n_features · in_size / 8`` channels (so that halving them at each
    doubling of the size leaves ``n_features`` at ``in_size / 2``); every stage is a transposed
    conv_layer (ReLU, then batchnorm); the last is ``ConvTranspose2d(C, n_channels, 4, 2, 1,
    bias=False)`` and tanh.
    """
    _check_size("basic_generator", in_size, 8)
    cur_size, cur_ftrs = 4, n_features // 2
    while cur_size < in_size:
        cur_size *= 2
        cur_ftrs *= 2
    layers = [conv_layer(noise_sz, cur_ftrs, 4, 1, transpose=True, **conv_kwargs)]
    cur_size = 4
    while cur_size < in_size // 2:
        layers.append(conv_layer(cur_ftrs, cur_ftrs // 2, 4, 2, 1, transpose=True, **conv_kwargs))
        cur_ftrs //= 2
        cur_size *= 2
    layers += [conv_layer(cur_ftrs, cur_ftrs, 3, 1, 1, transpose=True, **conv_kwargs)
               for _ in range(n_extra_layers)]
    layers += [conv2d_trans(cur_ftrs, n_channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


_conv_args = dict(leaky=0.2, norm_type=NormType.Spectral)


def _conv(ni, nf, ks=3, stride=1, **kwargs):
    return conv_layer(ni, nf, ks=ks, stride=stride, **_conv_args, **kwargs)


def gan_critic(n_channels=3, nf=128, n_blocks=3, p=0.15):
    """The super-resolution GAN's critic: one logit per patch (25 per 128-px image).

    conv 4/2 → Dropout2d(p/2) → dense res_block (channels doubled by the concatenation) →
    ``n_blocks`` × [Dropout2d(p), conv 4/2 doubling the channels, self-attention after the first]
    → conv to 1 channel (4×4, no padding, no bias, no activation) → Flatten.  Every conv is
    spectral-normed with LeakyReLU(0.2).
    """
    layers = [_conv(n_channels, nf, ks=4, stride=2),
              nn.Dropout2d(p / 2),
              res_block(nf, dense=True, **_conv_args)]
    nf *= 2  # after the dense block
    for i in range(n_blocks):
        layers += [nn.Dropout2d(p),
                   _conv(nf, nf * 2, ks=4, stride=2, self_attention=(i == 0))]
        nf *= 2
    layers += [_conv(nf, 1, ks=4, bias=False, padding=0, use_activ=False),
               Flatten()]
    return nn.Sequential(*layers)
