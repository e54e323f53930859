"""The WGAN's models and steps written in plain PyTorch: the references that ``tests/test_gan.py``
holds minitorch's GANTrainer to (one critic step and one generator step, float64), and that
``benchmarks/bench_gan.py`` times.  Read after ``minitorch/vision/models/gan.py`` and
``minitorch/vision/gan.py``.

* ``torch_basic_generator`` / ``torch_basic_critic`` — fastai v1's ``basic_generator`` /
  ``basic_critic`` from torch's own modules, with minitorch's parameter names, so
  ``copy_weights(minitorch_model, torch_model)`` works;
* ``torch_critic_step`` / ``torch_generator_step`` — what GANTrainer does in one WGAN critic
  batch and one generator batch, written out: requires_grad set on the model trained and
  cleared on the other, the critic clamped to ±clip, the fake made without a graph for the
  critic, the Wasserstein loss / the critic's score of the fakes, backward, the optimizer step.

A file of its own beside ``torch_twins.py`` (the MNIST models), which other work extends.
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


def torch_basic_critic(in_size, n_channels, n_features=64, n_extra_layers=0):
    layers = [_torch_conv_layer(n_channels, n_features, 4, 2, 1, leaky=0.2, norm=False)]
    cur_size, cur_ftrs = in_size // 2, n_features
    layers.append(torch.nn.Sequential(*[_torch_conv_layer(cur_ftrs, cur_ftrs, 3, 1, 1, leaky=0.2)
                                        for _ in range(n_extra_layers)]))
    while cur_size > 4:
        layers.append(_torch_conv_layer(cur_ftrs, cur_ftrs * 2, 4, 2, 1, leaky=0.2))
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


# ---- one step each -------------------------------------------------------------------------------
def torch_critic_step(generator, critic, opt_critic, real, noise, clip=CLIP):
    """What GANTrainer does in a WGAN critic batch, in torch; returns the loss."""
    for p in generator.parameters():
        p.requires_grad_(False)
    for p in critic.parameters():
        p.requires_grad_(True)
    with torch.no_grad():
        for p in critic.parameters():
            p.clamp_(-clip, clip)
        fake = generator(noise)
    loss = critic(real).mean() - critic(fake).mean()
    opt_critic.zero_grad()
    loss.backward()
    opt_critic.step()
    return loss.item()


def torch_generator_step(generator, critic, opt_gen, noise, clip=CLIP):
    """What GANTrainer does in a WGAN generator batch, in torch; returns the loss."""
    for p in generator.parameters():
        p.requires_grad_(True)
    for p in critic.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        for p in critic.parameters():
            p.clamp_(-clip, clip)
    loss = critic(generator(noise)).mean()
    opt_gen.zero_grad()
    loss.backward()
    opt_gen.step()
    return loss.item()
