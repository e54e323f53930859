"""Time the super-resolution GAN's critic step and generator step in minitorch and in PyTorch
(CPU).

Usage:  python benchmarks/bench_superres_gan.py [--rounds 3] [--steps 5]
                                                [--torch-threads 2] [--blas-threads N]

The models are those of ``lessons/lesson7_superres_gan.py`` (sections 1 and 4), float32, batch
16 of 3×64×64 images:

* the generator: what the lesson's ``unet_learner(data_gen, small16, blur=True,
  norm_type=NormType.Weight, self_attention=True, residual=True, ...)`` builds, a DynamicUnet on
  the small encoder with 16, 32, 64, 128 channels, weight-normed convs, blurred pixel shuffles,
  a self-attention block and the global residual head (whose last conv, zero in a fresh
  U-Net, is given weights, see ``open_residual_head``);
* the critic: ``gan_critic(nf=32)``: spectral-normed convs with LeakyReLU(0.2), Dropout2d, a
  dense residual block, self-attention, one logit per image at 64 px.  The lesson's critic is
  pretrained; this one is fresh, so a few forwards first let its spectral norms' power
  iterations converge (see ``settle_spectral_norms``).

The steps are what ``GANLearner.from_learners(learn_gen, learn_crit, weights_gen=(1., 50.),
opt_func=partial(Adam, betas=(0., 0.99)), wd=1e-3, callbacks=[GANDiscriminativeLR(mult_lr=5.)])``
does per batch with ``learn.fit(..., 1e-4)`` (``GANTrainer`` with its default
``switch_eval=True``: the model not trained is in eval mode):

* critic step: the generator (eval mode) makes a fake batch from the crappy input without a
  graph; the critic (training mode) scores the real batch and the fake; loss = the mean of
  BCE-with-logits(real → 1) and BCE-with-logits(fake → 0) (``gan_loss_from_func``'s critic loss
  with ``AdaptiveLoss(BCEWithLogitsLoss())``); backward; a step of the critic's optimizer at
  lr 5e-4 (1e-4 × ``GANDiscriminativeLR``'s 5);
* generator step: the generator (training mode) on the crappy input, the critic (eval mode,
  its parameters frozen) on the result; loss = 1 × BCE-with-logits(fake → 1) + 50 × MSE(fake,
  target); backward through the critic into the generator; a step of the generator's optimizer
  at lr 1e-4.

Each optimizer is Adam with betas (0, 0.99) and the learner's *true* weight decay 1e-3: minitorch's
``OptimWrapper`` shrinks every trainable parameter by ``lr · wd`` before the Adam step, which is
``torch.optim.AdamW``'s update, so torch runs AdamW.  The inputs are random normal arrays (what
normalised images look like), the same batch every step.

The torch models are *translated* from the minitorch ones by ``bench_superres.py``'s
``to_torch`` (same modules, same names, the state dict copied across, the spectral norms' u and v
included), so both frameworks run the same architecture from the same weights.  As a check, the
first step's losses are printed side by side; for that step only the critic's Dropout2d layers
have p = 0 (the two frameworks draw different dropout masks), after it they have the lesson's.
Each framework runs in a process of its own and the processes alternate
(``alternating.py``); the table gives the median over all timed steps, the ratio
minitorch / torch, and the lowest and highest ratio of one round.  Target: within
1.3× of PyTorch for each step.
"""
import argparse
from functools import partial

import numpy as np
import torch
import torch.nn.functional as torch_F

# bench_superres (in this script's folder, which Python puts on the path) holds the translator
# to torch, and puts the repository's root on the path for minitorch and tests/.
from alternating import add_arguments, compare, print_table, report, time_steps
from bench_superres import to_torch, torch_unet
from gan_step import minitorch_gan_step

import minitorch
from minitorch import nn
from minitorch.learner.optimizer import OptimWrapper
from minitorch.nn import functional as F
from minitorch.nn.hooks import flatten_model
from minitorch.optim import Adam
from minitorch.vision import AdaptiveLoss, NormType
from minitorch.vision.gan import GANLoss, GANModule, gan_loss_from_func
from minitorch.vision.models import gan_critic, small_encoder
from minitorch.vision.models.unet import DynamicUnet
from tests.torch_twins_gan import torch_gan_step

BATCH_SIZE, SIZE = 16, 64
LR, CRITIC_LR_MULT = 1e-4, 5.0   # learn.fit(..., 1e-4); GANDiscriminativeLR(mult_lr=5.)
BETAS, WD = (0.0, 0.99), 1e-3
WEIGHTS_GEN = (1.0, 50.0)        # the critic's opinion, the pixel loss


def lesson_generator():
    """The lesson's generator, as unet_learner builds it for 3×64×64 images."""
    return DynamicUnet(small_encoder(channels=(16, 32, 64, 128)), 3, (SIZE, SIZE), blur=True,
                       self_attention=True, norm_type=NormType.Weight, residual=True)


def open_residual_head(generator):
    """Give the generator's last conv the weight it starts with without the residual head.

    ``residual=True`` starts that conv at zero (weight norm's lengths g = 0), so that a fresh
    U-Net is the identity.  The lesson's generator is pretrained; left at zero, the fake would
    be the crappy input itself, the losses would not depend on the rest of the U-Net (nor would
    the check below test it), and no gradient would reach it.  g = ‖v‖ makes the weight v."""
    conv = generator.layers[-2][0]  # the final conv_layer, before the MergeLayer adding the input
    with minitorch.no_grad():
        v = conv.weight_v.array
        conv.weight_g.copy_(((v ** 2).sum(axis=(1, 2, 3), keepdims=True)) ** 0.5)


def settle_spectral_norms(critic, image, n_forwards=10):
    """Bring a fresh critic's spectral norms to where a pretrained one has them.

    Spectral norm estimates each weight's largest singular value σ by one step of power
    iteration per forward in training mode, from random vectors u and v.  The lesson's critic
    is pretrained, so its estimates have converged; a fresh one's are far too small, and in eval
    mode (the generator step) its weights, divided by them, give logits of ~1e9.  Ten forwards
    of one image bring every estimate within 5 % of σ."""
    critic.train()
    with minitorch.no_grad():
        for _ in range(n_forwards):
            critic(image)


# ---- the losses, in torch (minitorch's are GANLoss's, from gan_loss_from_func) ------------------
def torch_critic_loss(real_pred, fake_pred):
    """The mean of BCE-with-logits(real → 1) and BCE-with-logits(fake → 0)."""
    bce = torch_F.binary_cross_entropy_with_logits
    return (bce(real_pred, torch.ones_like(real_pred))
            + bce(fake_pred, torch.zeros_like(fake_pred))) / 2


def torch_generator_loss(fake_pred, fake, real):
    """``WEIGHTS_GEN[0]`` × BCE-with-logits(fake → 1) + ``WEIGHTS_GEN[1]`` × MSE(fake, real)."""
    return (WEIGHTS_GEN[0] * torch_F.binary_cross_entropy_with_logits(
        fake_pred, torch.ones_like(fake_pred)) + WEIGHTS_GEN[1] * torch_F.mse_loss(fake, real))


def dropout_off(critic, dropout_class):
    """Set p = 0 in the critic's dropout layers; returns a function that puts the p's back."""
    layers = [m for m in critic.modules() if isinstance(m, dropout_class)]
    saved = [m.p for m in layers]
    for m in layers:
        m.p = 0.0

    def restore():
        for m, p in zip(layers, saved):
            m.p = p
    return restore


# ---- one process: one framework, one kind of step -------------------------------------------------
def worker(framework, kind, steps, torch_threads):
    rng = np.random.default_rng(0)
    shape = (BATCH_SIZE, 3, SIZE, SIZE)
    crappy = rng.standard_normal(shape).astype(np.float32)
    real = rng.standard_normal(shape).astype(np.float32)
    minitorch.manual_seed(0)
    mt_gen, mt_critic = lesson_generator(), gan_critic(nf=32)
    open_residual_head(mt_gen)
    settle_spectral_norms(mt_critic, minitorch.tensor(real[:1]))
    lr = LR * CRITIC_LR_MULT if kind == "critic" else LR
    if framework == "minitorch":
        gan = GANModule(mt_gen, mt_critic)
        loss_func = GANLoss(*gan_loss_from_func(F.mse_loss, AdaptiveLoss(nn.BCEWithLogitsLoss()),
                                                weights_gen=WEIGHTS_GEN), gan)
        # As GANTrainer makes it: the trained model's layers as one layer group.
        opt = OptimWrapper.create(partial(Adam, betas=BETAS), lr,
                                  [flatten_model(mt_critic if kind == "critic" else mt_gen)],
                                  wd=WD)
        x, y = minitorch.tensor(crappy), minitorch.tensor(real)

        def step():
            return minitorch_gan_step(gan, loss_func, opt, kind == "generator", x, y,
                                      switch_eval=True)
        critic, dropout_class = mt_critic, nn.Dropout2d
    else:
        torch.set_num_threads(torch_threads)
        generator, critic = torch_unet(mt_gen), to_torch(mt_critic)
        critic.load_state_dict({k: torch.tensor(v.numpy())
                                for k, v in mt_critic.state_dict().items()})
        model = critic if kind == "critic" else generator
        opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=BETAS, weight_decay=WD)
        x, y = torch.tensor(crappy), torch.tensor(real)

        def step():
            return torch_gan_step(generator, critic, opt, kind == "generator", x, y,
                                  torch_critic_loss, torch_generator_loss, clip=None,
                                  switch_eval=True)
        dropout_class = torch.nn.Dropout2d
    restore_dropout = dropout_off(critic, dropout_class)
    first = step()  # the check: no dropout, so both frameworks compute the same thing
    restore_dropout()
    result = time_steps(step, steps, warmup=0)  # its untimed first call warms up
    report({**result, "first": first})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, rounds=3, steps=5)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.case, args.steps, args.torch_threads)
        return
    rows = compare(__file__, ["critic", "generator"], args)
    print_table(rows, f"super-resolution GAN steps, small16 U-Net generator and gan_critic(nf=32), "
                f"3×{SIZE}×{SIZE}, batch {BATCH_SIZE}, float32 (first values: dropout off)", args,
                first_column="step")

if __name__ == "__main__":
    main()
