"""The GANs' models and their training step written in plain PyTorch: the references that
``tests/test_gan.py`` holds minitorch's GANTrainer to (critic steps and generator steps of a
WGAN and a WGAN-GP, float64), and that ``benchmarks/bench_gan.py`` and
``bench_superres_gan.py`` time.  Read after ``minitorch/vision/models/gan.py`` and
``minitorch/vision/gan.py``.

* ``torch_basic_generator`` / ``torch_basic_critic`` — fastai v1's ``basic_generator`` /
  ``basic_critic`` from torch's own modules, with minitorch's parameter names, so
  ``copy_weights(minitorch_model, torch_model)`` works;
* ``torch_gan_step`` — what GANTrainer does in one critic batch or one generator batch, written
  out: requires_grad set on the model trained and cleared on the other, the critic clamped to
  ±clip (a WGAN), the fake made without a graph for the critic, the loss (the Wasserstein loss /
  the critic's score of the fakes by default; the super-resolution GAN's with its own),
  backward, the optimizer step; with ``gp``, a WGAN-GP critic step (the loss plus
  ``torch_gradient_penalty``, WGAN-GP's penalty written as PyTorch users write it, with
  ``torch.autograd.grad(..., create_graph=True)``).  The one GAN step of the tests and the
  benchmarks (``benchmarks/gan_step.py`` has minitorch's side).

* ``TorchSelfAttention`` (fastai's, with conv1d or in minitorch's conv2d layout) and
  ``torch_gan_critic`` — the super-resolution GAN's critic.

A file of its own beside ``torch_twins.py`` (fastai's SequentialEx and MergeLayer, the MNIST
models) and ``torch_twins_vgg.py`` (VGG16).
"""
import torch

CLIP = 0.01


# ---- the torch twins of basic_generator / basic_critic (same layers, same state-dict names) ------
def _torch_conv_layer(ni, nf, ks, stride, padding, leaky=None, norm=True, transpose=False):
    conv_class = torch.nn.ConvTranspose2d if transpose else torch.nn.Conv2d
    layers = [conv_class(ni, nf, ks, stride=stride, padding=padding, bias=not norm),
              torch.nn.LeakyReLU(leaky) if leaky is not None else torch.nn.ReLU()]
    if norm:
        layers.append(torch.nn.BatchNorm2d(nf))
    return torch.nn.Sequential(*layers)


class TorchAvgFlatten(torch.nn.Module):
    def forward(self, x):
        return x.mean(0).view(1)


def torch_basic_critic(in_size, n_channels, n_features=64, n_extra_layers=0, norm=True):
    """``norm=False``: ``basic_critic(..., norm_type=None)``, WGAN-GP's critic."""
    layers = [_torch_conv_layer(n_channels, n_features, 4, 2, 1, leaky=0.2, norm=False)]
    cur_size, cur_ftrs = in_size // 2, n_features
    layers.append(torch.nn.Sequential(*[_torch_conv_layer(cur_ftrs, cur_ftrs, 3, 1, 1, leaky=0.2,
                                                          norm=norm)
                                        for _ in range(n_extra_layers)]))
    while cur_size > 4:
        layers.append(_torch_conv_layer(cur_ftrs, cur_ftrs * 2, 4, 2, 1, leaky=0.2, norm=norm))
        cur_ftrs *= 2
        cur_size //= 2
    layers += [torch.nn.Conv2d(cur_ftrs, 1, 4, padding=0, bias=False), TorchAvgFlatten()]
    return torch.nn.Sequential(*layers)


def torch_basic_generator(in_size, n_channels, noise_sz=100, n_features=64, n_extra_layers=0):
    cur_size, cur_ftrs = 4, n_features // 2
    while cur_size < in_size:
        cur_size *= 2
        cur_ftrs *= 2
    layers = [_torch_conv_layer(noise_sz, cur_ftrs, 4, 1, 0, transpose=True)]
    cur_size = 4
    while cur_size < in_size // 2:
        layers.append(_torch_conv_layer(cur_ftrs, cur_ftrs // 2, 4, 2, 1, transpose=True))
        cur_ftrs //= 2
        cur_size *= 2
    layers += [_torch_conv_layer(cur_ftrs, cur_ftrs, 3, 1, 1, transpose=True)
               for _ in range(n_extra_layers)]
    layers += [torch.nn.ConvTranspose2d(cur_ftrs, n_channels, 4, 2, 1, bias=False),
               torch.nn.Tanh()]
    return torch.nn.Sequential(*layers)


def copy_weights(mt_model, torch_model):
    torch_model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in
                                 mt_model.state_dict().items()})


def torch_gradient_penalty(critic, real, fake, eps, weight=10.):
    """WGAN-GP's penalty (``GradientPenalty``), the way PyTorch users write it: λ · mean over
    the images of (‖∇ₓ C(x̂)‖₂ − 1)² at x̂ = ε·real + (1 − ε)·fake, the critic's output times N
    differentiated (its batch mean: the sum of the images' scores)."""
    eps = eps.reshape(-1, *[1] * (real.ndim - 1))
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat).mean() * len(real), x_hat, create_graph=True)
    return weight * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


# ---- one step of GANTrainer's -------------------------------------------------------------------
def wasserstein_critic_loss(real_pred, fake_pred):
    """WassersteinLoss: mean C(real) − mean C(fake)."""
    return real_pred.mean() - fake_pred.mean()


def wasserstein_generator_loss(fake_pred, fake, real):
    """NoopLoss: the critic's mean score of the fakes."""
    return fake_pred.mean()


def torch_gan_step(generator, critic, opt, gen_mode, gen_input, real=None,
                   critic_loss=wasserstein_critic_loss, generator_loss=wasserstein_generator_loss,
                   clip=CLIP, switch_eval=False, gp=None, gp_eps=None):
    """What GANTrainer does in one batch, in torch; returns the loss.  A generator batch
    (``gen_mode``) or a critic batch: ``requires_grad`` set on the model trained and cleared on
    the other (which is put in eval mode with ``switch_eval``, GANTrainer's default), the
    critic's weights clamped to ±``clip`` (a WGAN; None: no clamp), the fake made from
    ``gen_input`` (noise, or a crappy image) — without a graph for the critic —, the loss
    (``critic_loss(C(real), C(fake))`` or ``generator_loss(C(fake), fake, real)``; a WGAN's by
    default), backward, the optimizer's step.  ``gp``: a critic batch's loss gains
    ``torch_gradient_penalty`` of that weight (WGAN-GP, with ``clip=None``) at the
    interpolation weights ``gp_eps`` (N,), drawn uniform when None."""
    trained, other = (generator, critic) if gen_mode else (critic, generator)
    for p in other.parameters():
        p.requires_grad_(False)
    for p in trained.parameters():
        p.requires_grad_(True)
    if switch_eval:
        other.eval()
        trained.train()
    if clip is not None:
        with torch.no_grad():
            for p in critic.parameters():
                p.clamp_(-clip, clip)
    if gen_mode:
        fake = generator(gen_input)
        loss = generator_loss(critic(fake), fake, real)
    else:
        with torch.no_grad():
            fake = generator(gen_input)
        loss = critic_loss(critic(real), critic(fake))
        if gp is not None:
            eps = torch.rand(len(real), dtype=real.dtype) if gp_eps is None else gp_eps
            loss = loss + torch_gradient_penalty(critic, real, fake, eps, weight=gp)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


# ---- the torch twin of gan_critic (the super-resolution GAN's critic) ---------------------------
def _torch_sn_conv(ni, nf, ks, stride=1, padding=None, bias=True, leaky=True):
    """fastai's ``conv_layer(..., norm_type=NormType.Spectral, leaky=0.2)``: a spectral-normed
    conv, then LeakyReLU(0.2) (``leaky=False``: the conv alone)."""
    padding = (ks - 1) // 2 if padding is None else padding
    conv = torch.nn.utils.spectral_norm(torch.nn.Conv2d(ni, nf, ks, stride, padding, bias=bias))
    return torch.nn.Sequential(conv, torch.nn.LeakyReLU(0.2)) if leaky else torch.nn.Sequential(conv)


class TorchSelfAttention(torch.nn.Module):
    """fastai v1's SelfAttention, spectral-normed, γ starting at 0.  ``conv1d=True`` is fastai's
    own: 1×1 conv1d on the flattened (N, C, H·W); by default the 1×1 convs are conv2d on
    (N, C, H, W) — the same numbers, in minitorch's parameter layout, so a state dict copies
    across (the critic's twin, the benchmarks' translator)."""

    def __init__(self, n_channels, conv1d=False):
        super().__init__()
        sn, conv = torch.nn.utils.spectral_norm, torch.nn.Conv1d if conv1d else torch.nn.Conv2d
        self.conv1d = conv1d
        self.query = sn(conv(n_channels, n_channels // 8, 1, bias=False))
        self.key = sn(conv(n_channels, n_channels // 8, 1, bias=False))
        self.value = sn(conv(n_channels, n_channels, 1, bias=False))
        self.gamma = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        inputs = x.flatten(2) if self.conv1d else x
        f, g, h = (conv(inputs).flatten(2) for conv in (self.query, self.key, self.value))
        beta = torch.softmax(f.transpose(1, 2) @ g, dim=1)
        return (self.gamma * (h @ beta)).view(x.shape) + x


class TorchDenseResBlock(torch.nn.Module):
    """fastai's ``res_block(nf, dense=True)``: two convs, then the input concatenated after the
    output (MergeLayer(dense=True): ``cat([x, x.orig])``)."""

    def __init__(self, nf):
        super().__init__()
        self.layers = torch.nn.ModuleList([_torch_sn_conv(nf, nf, 3), _torch_sn_conv(nf, nf, 3)])

    def forward(self, x):
        return torch.cat([self.layers[1](self.layers[0](x)), x], dim=1)


def torch_gan_critic(n_channels=3, nf=128, n_blocks=3, p=0.15):
    """fastai v1's ``gan_critic`` with minitorch's module indices and names."""
    layers = [_torch_sn_conv(n_channels, nf, 4, stride=2, padding=1), torch.nn.Dropout2d(p / 2),
              TorchDenseResBlock(nf)]
    nf *= 2
    for i in range(n_blocks):
        conv = _torch_sn_conv(nf, nf * 2, 4, stride=2, padding=1)
        if i == 0:
            conv.append(TorchSelfAttention(nf * 2))
        layers += [torch.nn.Dropout2d(p), conv]
        nf *= 2
    layers += [_torch_sn_conv(nf, 1, 4, padding=0, bias=False, leaky=False), torch.nn.Flatten()]
    return torch.nn.Sequential(*layers)
