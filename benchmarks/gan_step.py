"""One batch of GANTrainer's in minitorch, written out: the GAN step that ``bench_gan.py`` (the
WGAN) and ``bench_superres_gan.py`` (the super-resolution GAN) time.  Its torch twin, the same
step in torch, is ``torch_gan_step`` in ``tests/torch_twins_gan.py``.

A benchmark times the step itself, not the Learner around it, so the step is what
``GANTrainer`` (``minitorch/vision/gan.py``) does per batch and nothing more: switch the model
and the loss to the generator or the critic, freeze the other model (and, with
``switch_eval``, put it in eval mode), clamp the critic's weights (a WGAN), the loss, backward,
the optimizer's step; a WGAN-GP critic step adds the gradient penalty to the loss, as
GANTrainer's ``after_loss`` does.
"""
import minitorch
# GradientPenalty is looked up only when used: bench_first_order runs this file on commits
# from before it.
import minitorch.vision.gan as gan_machinery
from minitorch.vision.gan import requires_grad


def minitorch_gan_step(gan, loss_func, opt, gen_mode, gen_input, real, clip=None,
                       switch_eval=False, gp=None, gp_eps=None):
    """A generator batch (``gen_mode``) or a critic batch of the ``GANModule`` ``gan`` with its
    ``GANLoss`` ``loss_func`` and ``opt`` (the trained model's optimizer); returns the loss.
    ``gen_input`` is the generator's input (noise, or a crappy image), ``real`` the real batch:
    the critic is fed ``real`` (GANLoss hands ``gen_input`` to the generator for the fakes), the
    generator ``gen_input`` (GANLoss compares its output with ``real``).  ``gp``: a critic
    batch's loss gains ``GradientPenalty(gp)`` between ``real`` and the fakes it scored
    (WGAN-GP) at the interpolation weights ``gp_eps`` (N,), drawn when None."""
    gan.switch(gen_mode)
    loss_func.switch(gen_mode)
    trained, other = (gan.generator, gan.critic) if gen_mode else (gan.critic, gan.generator)
    requires_grad(other, False)
    requires_grad(trained, True)
    if switch_eval:
        other.eval()
        trained.train()
    if clip is not None:
        with minitorch.no_grad():
            for p in gan.critic.parameters():
                p.clamp_(-clip, clip)
    loss = loss_func(gan(gen_input), real) if gen_mode else loss_func(gan(real), gen_input)
    if gp is not None and not gen_mode:
        penalty = gan_machinery.GradientPenalty(gp)
        loss = loss + penalty(gan.critic, real, loss_func.fake, eps=gp_eps)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()
