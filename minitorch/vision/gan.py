"""GAN training with fastai v1's names and semantics (``fastai.vision.gan``).
Read after ``learner/callbacks.py``, ``learner/learner.py`` and ``vision/models/gan.py``.

A GAN is two models trained against each other: a *generator* G that turns noise (or a crappy
image) into an image, and a *critic* C that scores images, real high or low depending on the
loss.  fastai trains both inside one ordinary :class:`~minitorch.learner.Learner`, by taking
turns; nothing in the training loop changes:

* :class:`GANModule` holds G and C, and its ``forward`` is one or the other (``gen_mode``);
* :class:`GANLoss` is the matching loss: in generator mode the critic scores the generated
  batch; in critic mode the generator makes a fake batch (without a graph: G is not trained in
  this step) and the critic's loss compares its scores of the real and the fake images;
* :class:`GANTrainer`, a callback, does the turn-taking: two optimizers (``learn.opt`` is swapped
  for the model whose turn it is), ``requires_grad`` on the model trained and off on the other,
  input and target swapped for critic batches (the critic's input is the real image; the noise
  goes to the generator inside the loss), the critic's weights clipped to ±``clip`` (WGAN) or
  its loss given a :class:`GradientPenalty` of weight ``gp`` (WGAN-GP), the two losses smoothed
  into ``gen_loss`` / ``disc_loss`` columns, and one grid of samples per epoch saved as a PNG;
* a *switcher* decides after each batch whose turn it is: :class:`FixedGANSwitcher` (n critic
  batches, then m generator batches) or :class:`AdaptiveGANSwitcher` (by loss thresholds);
* :class:`GANLearner` puts it together; ``GANLearner.wgan`` is the Wasserstein GAN:
  critic loss ``mean C(real) − mean C(fake)`` (:class:`WassersteinLoss`), generator loss
  ``mean C(G(z))`` (:class:`NoopLoss`), critic clipped to ±0.01, five critic batches per
  generator batch; ``GANLearner.wgan_gp`` the same with the gradient penalty instead of the
  clipping (Gulrajani et al. 2017: the gradient of a gradient, ``autograd.py``).

The data (:class:`GANItemList`): the input is a fresh noise vector at every access, the target is
a real image normalised to [−1, 1] (what the generator's tanh produces).  Read
``data/data_block.py`` and ``vision/data.py`` (ItemList, ImageList) for the base it builds on.

Where the lesson's fastai had a bug, this file does what was meant and says so.
"""
import numbers
from functools import partial

import numpy  # host-side only: the noise and the pictures

from minitorch import backend, nn
from minitorch.autograd import grad, no_grad
from minitorch.core import requires_grad  # noqa: F401  (and exported, as fastai's)
from minitorch.data.databunch import DatasetType
from minitorch.learner import Learner
from minitorch.learner.callbacks import Callback, LearnerCallback, SmoothenValue
from minitorch.learner.metrics import accuracy_thresh_expand  # noqa: F401  (fastai exports it here)
from minitorch.learner.optimizer import is_positive_number
from minitorch.nn.hooks import flatten_model
from minitorch.nn.module import eval_mode
from minitorch.nn.normalization import _BatchNorm
from minitorch.ops import cat
from minitorch.plot import plot_multi
from minitorch.tensor import full, rand
from minitorch.vision.data import ImageList
from minitorch.vision.image import show_image
from minitorch.vision.models.gan import basic_critic, basic_generator, gan_critic  # noqa: F401

# What ``from minitorch.vision.gan import *`` gives, as fastai's ``vision/gan.py`` (the models
# included: fastai defines them in the same file).
__all__ = ["AdaptiveGANSwitcher", "AdaptiveLoss", "FixedGANSwitcher", "GANDiscriminativeLR",
           "GANItemList", "GANLearner", "GANLoss", "GANModule", "GANTrainer", "GradientPenalty",
           "NoisyItem", "NoopLoss", "WassersteinLoss", "accuracy_thresh_expand", "basic_critic",
           "basic_generator", "gan_critic", "gan_loss_from_func", "noop", "requires_grad"]

# ---- the two models as one ---------------------------------------------------------------------


class GANModule(nn.Module):
    """A generator and a critic; ``forward`` runs the generator when ``gen_mode``, else the
    critic."""

    def __init__(self, generator=None, critic=None, gen_mode=False):
        super().__init__()
        self.gen_mode = gen_mode
        if generator is not None:
            self.generator, self.critic = generator, critic

    def forward(self, *args):
        return self.generator(*args) if self.gen_mode else self.critic(*args)

    def switch(self, gen_mode=None):
        """Generator mode if ``gen_mode``, critic mode if not; ``None`` toggles."""
        self.gen_mode = (not self.gen_mode) if gen_mode is None else gen_mode


class GANLoss(GANModule):
    """The loss of a GAN, in the same mode as the model (``switch`` both together).

    Generator mode, ``loss(output, target)``: the critic scores the generated ``output``, then
    ``loss_funcG(fake_pred, output, target)``.  Critic mode, ``loss(real_pred, noise)``: the
    generator makes a fake batch from ``noise`` *without a graph* (the generator is not trained
    in a critic step, so its activations need not be kept), the critic scores it, and
    ``loss_funcC(real_pred, fake_pred)``.
    """

    def __init__(self, loss_funcG, loss_funcC, gan_model):
        super().__init__()
        self.loss_funcG, self.loss_funcC, self.gan_model = loss_funcG, loss_funcC, gan_model

    def generator(self, output, target):
        fake_pred = self.gan_model.critic(output)
        # fastai v1 called loss_funcG(fake_pred, target, output), while the function that
        # gan_loss_from_func builds takes (fake_pred, output, target): the generator's own loss
        # got its arguments swapped (harmless only for symmetric losses such as MSE).  We pass
        # them in the order the function declares.
        return self.loss_funcG(fake_pred, output, target)

    def critic(self, real_pred, input):
        with no_grad():
            fake = self.gan_model.generator(input)
        self.fake = fake  # the fakes this critic batch scored (GANTrainer's gradient penalty)
        fake_pred = self.gan_model.critic(fake)
        return self.loss_funcC(real_pred, fake_pred)


class NoopLoss(nn.Module):
    """The WGAN generator's loss: ``output.mean()`` (the targets are ignored).  With the critic
    trained to score real images *low* (see :class:`WassersteinLoss`), the generator lowers
    the critic's score of its fakes."""

    def forward(self, output, *targets):
        return output.mean()


class WassersteinLoss(nn.Module):
    """The WGAN critic's loss: ``real.mean() − fake.mean()``.

    Minimising it pushes the critic's scores of real images down and of fakes up; with the
    critic's weights clipped (so that it stays Lipschitz), −loss estimates the Wasserstein
    distance between the two distributions (Arjovsky et al. 2017; fastai's sign convention).
    """

    def forward(self, real, fake):
        return real.mean() - fake.mean()


class GradientPenalty(nn.Module):
    """WGAN-GP's penalty on the critic (Gulrajani et al. 2017): ``weight · mean over the images
    of (‖∇ₓ C(x̂)‖₂ − 1)²`` at points ``x̂ = ε·real + (1 − ε)·fake``, one ε uniform in [0, 1) per
    image — a random point on the line between a real image and a fake one.

    Why: −(Wasserstein loss) estimates the Wasserstein distance only if the critic is
    1-Lipschitz (the norm of its gradient with respect to the image at most 1).  WGAN clips the
    weights to get there, which leaves the critic able to learn only simple functions; the paper
    shows that the best critic has gradient norm exactly 1 on the lines between real and
    generated images, and asks for that there, softly, instead of clipping.

    The penalty is made of a gradient, so the critic's step differentiates a gradient:
    ``autograd.grad(..., create_graph=True)`` gives ∇ₓ C as a Tensor in the graph, and the
    loss's backward goes through it to the critic's weights.  ``forward(critic, real, fake)``;
    ``eps`` (N,) gives the interpolation weights instead of drawing them.

    The critic must score each image on its own (the paper drops batchnorm from it:
    ``basic_critic(..., norm_type=None)``): a batchnorm in training mode makes each image's score
    depend on the whole batch, and so its gradient.  A critic whose output is the batch's mean
    score (``basic_critic``'s AvgFlatten) is differentiated at N × its output, the sum of the
    images' scores, so that each image's gradient is its own score's.
    """

    def __init__(self, weight=10.):
        super().__init__()
        if not is_positive_number(weight):
            raise ValueError(f"GradientPenalty: weight must be a positive finite number (λ, "
                             f"10 in the paper), got {weight!r}")
        self.weight = weight

    def forward(self, critic, real, fake, eps=None):
        if tuple(real.shape) != tuple(fake.shape):
            raise ValueError(f"GradientPenalty: the real and the fake batch must have one shape, "
                             f"got {tuple(real.shape)} and {tuple(fake.shape)}")
        for m in critic.modules():
            if isinstance(m, _BatchNorm) and m.training:
                raise ValueError(f"GradientPenalty: the critic has a {type(m).__name__} in "
                                 "training mode, which mixes the images of a batch (the penalty "
                                 "needs each image's own gradient); build it without batchnorm, "
                                 "e.g. basic_critic(..., norm_type=None)")
        n = real.shape[0]
        if eps is not None and tuple(eps.shape) != (n,):
            raise ValueError(f"GradientPenalty: eps must hold one weight per image, shape "
                             f"({n},), got {tuple(eps.shape)}")
        shape = (n,) + (1,) * (real.ndim - 1)             # one ε per image, over all its pixels
        eps = (rand(*shape, dtype=real.dtype, device=real.device) if eps is None
               else eps.reshape(shape))
        x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_()
        scores = critic(x_hat)
        grad_x, = grad(scores.mean() * n, x_hat, create_graph=True)
        norms = (grad_x.reshape(n, -1) ** 2).sum(1).sqrt()
        return self.weight * ((norms - 1) ** 2).mean()


def gan_loss_from_func(loss_gen, loss_crit, weights_gen=None):
    """The two losses of a GAN built from a generator loss (e.g. MSE against the target) and a
    classification loss for the critic (e.g. BCE with logits):

    * generator: ``w0 · loss_crit(fake_pred, 1) + w1 · loss_gen(output, target)`` — fool the
      critic, and stay close to the target;
    * critic: ``(loss_crit(real_pred, 1) + loss_crit(fake_pred, 0)) / 2``.

    ``weights_gen`` is ``(w0, w1)``, default ``(1, 1)``.  Returns ``(loss_G, loss_C)``.
    """
    weights_gen = (1., 1.) if weights_gen is None else tuple(weights_gen)
    if len(weights_gen) != 2:
        raise ValueError(f"gan_loss_from_func: weights_gen must be two numbers (critic term, "
                         f"generator term), got {weights_gen!r}")

    def _loss_G(fake_pred, output, target):
        ones = _full_like_rows(fake_pred, 1.0)
        return weights_gen[0] * loss_crit(fake_pred, ones) + weights_gen[1] * loss_gen(output,
                                                                                       target)

    def _loss_C(real_pred, fake_pred):
        ones, zeros = _full_like_rows(real_pred, 1.0), _full_like_rows(fake_pred, 0.0)
        return (loss_crit(real_pred, ones) + loss_crit(fake_pred, zeros)) / 2

    return _loss_G, _loss_C


def _full_like_rows(pred, value):
    """A (N,) tensor of ``value`` on ``pred``'s device and dtype (fastai's ``new_ones(N)``)."""
    return full((pred.shape[0],), value, dtype=pred.dtype, device=pred.device)


class AdaptiveLoss(nn.Module):
    """``crit(output, target)`` with each row's single target expanded to the row's outputs: a
    critic that gives one logit per patch is trained against one real/fake label per image."""

    def __init__(self, crit):
        super().__init__()
        self.crit = crit

    def forward(self, output, target):
        if target.shape[0] != output.shape[0]:
            raise ValueError(f"AdaptiveLoss: {output.shape[0]} outputs for {target.shape[0]} "
                             "targets")
        expanded = target.reshape(target.shape[0], *([1] * (output.ndim - 1))).expand_as(output)
        return self.crit(output, expanded.float())


# ---- the turn-taking ---------------------------------------------------------------------------


class GANTrainer(Callback):
    """Trains a :class:`GANLearner`'s generator and critic in turns (fastai's ``GANTrainer``).

    ``switch_eval``: the model not being trained is put in eval mode (its batchnorm uses running
    statistics, its dropout is off).  ``clip``: before every training batch the critic's weights
    are clamped to ``[−clip, clip]`` (WGAN); a positive finite number, checked whenever it is
    set.  ``gp``: every critic batch's loss gets ``GradientPenalty(gp)`` of the critic between
    that batch's real images and the fakes its loss scored (WGAN-GP; ``disc_loss`` includes
    it); a positive finite number.  ``beta``: smoothing of the two losses.
    ``gen_first``: start with the generator.  ``show_img``: at the end of each epoch, save a
    grid of the last generated batch to ``learn.path / 'gan_samples' / 'epoch_{n}.png'``
    (denormalised: fastai v1 showed the tanh output as it was, too dark, fastai#2524).
    The first training batch of a fit checks that the generator's images fit the critic
    (:meth:`check_shapes`).
    """

    order = -20  # before the recorder: the batch it records is the one this callback set up

    def __init__(self, learn=None, switch_eval=False, clip=None, beta=0.98, gen_first=False,
                 show_img=True, n_show=16, gp=None):
        self.learn = learn
        self.switch_eval, self.clip, self.gp, self.beta = switch_eval, clip, gp, beta
        self.gen_first, self.show_img, self.n_show = gen_first, show_img, n_show
        self.opt_gen = self.opt_critic = None
        self.gen_mode = gen_first
        self.fitting = False  # between this callback's begin_fit and after_fit

    @property
    def clip(self):
        return self._clip

    @clip.setter
    def clip(self, value):
        # Checked when set: at every batch, clamp(-nan, nan) would make every critic weight NaN
        # (before any NaN check can see a loss), and clip ≤ 0 would set every weight to -clip.
        if value is not None and not is_positive_number(value):
            raise ValueError(f"GANTrainer: clip must be None or a positive finite number (the "
                             f"critic's weights are clamped to [-clip, clip]), got {value!r}")
        self._clip = value

    @property
    def gp(self):
        return self._gp

    @gp.setter
    def gp(self, value):
        if value is not None and not is_positive_number(value):
            raise ValueError(f"GANTrainer: gp must be None or a positive finite number (the "
                             f"weight λ of the gradient penalty, 10 in the paper), got {value!r}")
        self.gradient_penalty = None if value is None else GradientPenalty(value)
        self._gp = value

    @property
    def generator(self):
        return self.learn.model.generator

    @property
    def critic(self):
        return self.learn.model.critic

    def _set_trainable(self):
        train_model = self.generator if self.gen_mode else self.critic
        loss_model = self.critic if self.gen_mode else self.generator
        requires_grad(train_model, True)
        requires_grad(loss_model, False)
        if self.switch_eval:
            train_model.train()
            loss_model.eval()

    def create_opts(self):
        """One optimizer per model, made like the learner's own (same opt_func, wd, true_wd,
        bn_wd), each over its model's layers as one layer group (the learner's is made first
        when it has none: before a first fit, or when a checkpoint is loaded)."""
        learn = self.learn
        if learn.opt is None:
            learn.create_opt(learn.default_lr)
        self.opt_gen = learn.opt.new([flatten_model(self.generator)])
        self.opt_critic = learn.opt.new([flatten_model(self.critic)])

    def begin_fit(self):
        learn = self.learn
        self.fitting = True
        if self.opt_gen is None:
            self.create_opts()
        for opt in (self.opt_gen, self.opt_critic):
            opt.lr, opt.wd = learn.opt.lr, learn.opt.wd
        self.gen_mode = self.gen_first
        self.switch(self.gen_mode)
        self.closses, self.glosses = [], []
        self.smoothenerG, self.smoothenerC = SmoothenValue(self.beta), SmoothenValue(self.beta)
        learn.skip_validate = True  # a GAN has no validation loss (fastai: recorder.no_val)
        learn.recorder.add_metric_names(["gen_loss", "disc_loss"])
        self.imgs, self.titles = [], []
        self.last_gen = None
        self.shapes_checked = False

    def check_shapes(self):
        """At the first training batch, before anything changes: the generator's output must
        have the shape of the real images (the critic scores both), and the critic must take
        them.  One image each way, in eval mode and without a graph (nothing is updated);
        without this, a mismatch surfaces deep inside the critic (a reshape, a kernel larger
        than its input) naming neither model."""
        noise, real = self.learn.xb, self.learn.yb  # before a critic batch swaps them
        with eval_mode(self.learn.model), no_grad():
            fake = self.generator(noise[:1])
            if tuple(fake.shape[1:]) != tuple(real.shape[1:]):
                raise ValueError(
                    f"GANLearner: the generator makes images of shape {tuple(fake.shape[1:])} "
                    f"from inputs of shape {tuple(noise.shape[1:])}, but the real images the "
                    f"critic also scores have shape {tuple(real.shape[1:])}; build the "
                    "generator for the data's image size (and channels)")
            try:
                self.critic(real[:1])
            except Exception as error:
                raise ValueError(f"GANLearner: the critic cannot score images of shape "
                                 f"{tuple(real.shape[1:])} (the real images, and the "
                                 f"generator's): {type(error).__name__}: {error}") from error
        self.shapes_checked = True

    def begin_epoch(self):
        # fit put the whole model in training mode: apply the turn's modes again.
        self.switch(self.gen_mode)

    def begin_batch(self):
        learn = self.learn
        if not learn.training:
            return
        if not self.shapes_checked:
            self.check_shapes()
        if self.clip is not None:
            with no_grad():
                for p in self.critic.parameters():
                    p.clamp_(-self.clip, self.clip)
        if not self.gen_mode:
            # The critic's input is the real image; the noise is its "target", which GANLoss
            # hands to the generator.
            learn.xb, learn.yb = learn.yb, learn.xb

    def after_loss(self):
        # WGAN-GP: the critic's loss gains the penalty, between this batch's real images (the
        # critic's input, learn.xb) and the fakes the loss just made and scored.
        learn = self.learn
        if self.gradient_penalty is not None and learn.training and not self.gen_mode:
            learn.loss = learn.loss + self.gradient_penalty(self.critic, learn.xb,
                                                            learn.loss_func.fake)

    def after_backward(self):
        # The loss's value is read once per batch, after backward (callbacks.py, "When the
        # loss's value is known"), so the smoothed losses are fed here, not at after_loss.
        learn = self.learn
        if self.gen_mode:
            self.glosses.append(self.smoothenerG.add_value(learn.last_loss))
            self.last_gen = learn.pred.detach()
        else:
            self.closses.append(self.smoothenerC.add_value(learn.last_loss))

    def after_batch(self):
        # No gradient outlives its step: the model not trained has requires_grad off, and both
        # are cleared here (fastai v1 carried stale gradients from one model's step into the
        # other's until it zeroed both optimizers, fastai#2300).
        self.generator.zero_grad()
        self.critic.zero_grad()

    def after_epoch(self):
        learn = self.learn
        learn.recorder.add_metrics([self.smoothenerG.smooth if self.smoothenerG.n else None,
                                    self.smoothenerC.smooth if self.smoothenerC.n else None])
        if self.show_img and self.last_gen is not None:
            images = denorm_images(learn.data, self.last_gen[:self.n_show])
            self.imgs.append(images[0])
            self.titles.append(f"Epoch {learn.epoch}")
            path = learn.path / "gan_samples" / f"epoch_{learn.epoch}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            image_grid(images, path=path, title=f"Epoch {learn.epoch}")

    def after_fit(self):
        if not self.fitting:
            return  # the fit stopped before this callback's begin_fit: nothing to undo
        self.fitting = False
        self.switch(gen_mode=True)

    def switch(self, gen_mode=None):
        """Generator mode if ``gen_mode``, critic mode if not (``None`` toggles): the learner's
        optimizer, the trainable model, the model's and the loss's mode."""
        self.gen_mode = (not self.gen_mode) if gen_mode is None else gen_mode
        if self.opt_gen is not None:
            self.learn.opt = self.opt_gen if self.gen_mode else self.opt_critic
        self._set_trainable()
        self.learn.model.switch(self.gen_mode)
        self.learn.loss_func.switch(self.gen_mode)


def gan_trainer_of(callback):
    """The GANTrainer of ``callback``'s learner; a TypeError at ``begin_fit`` when it is not a
    GANLearner (the switchers and GANDiscriminativeLR act on the turn it keeps)."""
    trainer = getattr(callback.learn, "gan_trainer", None)
    if trainer is None:
        raise TypeError(f"{type(callback).__name__} acts on the turns of a GANLearner's generator "
                        f"and critic; this {type(callback.learn).__name__} has no gan_trainer "
                        "(train a GAN with GANLearner)")
    return trainer


class FixedGANSwitcher(LearnerCallback):
    """``n_crit`` critic batches, then ``n_gen`` generator batches, and again.

    Each may be a number or a function: a function of the *other* model's number of batches so
    far, called at each switch (the WGAN paper trains the critic 100 times per generator batch
    for the first 25 generator batches: ``n_crit=lambda n_gen: 100 if n_gen < 25 else 5``).
    fastai v1 passed the other model's count *since the last switch*, which its switch had just
    reset to 0, so such a function always saw 0; we pass the running total, as meant.
    """

    def __init__(self, learn=None, n_crit=1, n_gen=1):
        super().__init__(learn)
        for name, n in (("n_crit", n_crit), ("n_gen", n_gen)):
            if not callable(n) and not (isinstance(n, numbers.Integral) and n >= 1):
                raise ValueError(f"FixedGANSwitcher: {name} must be a positive integer or a "
                                 f"function, got {n!r}")
        self.n_crit, self.n_gen = n_crit, n_gen

    @staticmethod
    def _turn_length(name, n, n_other):
        """``n``, or ``n(n_other)`` for a function, checked to be a positive integer."""
        value = n(n_other) if callable(n) else n
        if isinstance(value, bool) or not (isinstance(value, numbers.Integral) and value >= 1):
            raise TypeError(f"FixedGANSwitcher: {name}({n_other}) returned {value!r}; expected "
                            "a positive integer (the number of batches of that turn)")
        return value

    def begin_fit(self):
        gan_trainer_of(self)
        # Functions are tried on the first count before any batch, so that one returning
        # None or a float stops the fit before anything is trained.
        self._turn_length("n_crit", self.n_crit, 0)
        self._turn_length("n_gen", self.n_gen, 0)
        self.n_c = self.n_g = 0            # batches since the last switch
        self.total_c = self.total_g = 0    # batches in this fit

    def after_batch(self):
        learn = self.learn
        if not learn.training:
            return
        trainer = learn.gan_trainer
        if trainer.gen_mode:
            self.n_g += 1
            self.total_g += 1
            name, n_iter, n_other, n_done = "n_gen", self.n_gen, self.total_c, self.n_g
        else:
            self.n_c += 1
            self.total_c += 1
            name, n_iter, n_other, n_done = "n_crit", self.n_crit, self.total_g, self.n_c
        if n_done >= self._turn_length(name, n_iter, n_other):
            trainer.switch()
            self.n_c = self.n_g = 0


class AdaptiveGANSwitcher(LearnerCallback):
    """Switch to the other model after a batch whose loss is below the threshold of the model
    just trained (``gen_thresh``, ``critic_thresh``); a threshold of ``None`` switches after
    every batch.  (A later fastai v1 read ``self.crit_thresh``, a name it never set.)"""

    def __init__(self, learn=None, gen_thresh=None, critic_thresh=None):
        super().__init__(learn)
        self.gen_thresh, self.critic_thresh = gen_thresh, critic_thresh

    def begin_fit(self):
        gan_trainer_of(self)

    def after_batch(self):
        learn = self.learn
        if not learn.training or learn.loss is None:
            return
        trainer = learn.gan_trainer
        thresh = self.gen_thresh if trainer.gen_mode else self.critic_thresh
        if thresh is None or learn.last_loss < thresh:
            trainer.switch()


class GANDiscriminativeLR(LearnerCallback):
    """Critic batches train with the learning rate × ``mult_lr`` (the superres GAN: 5); the
    notebook adds it with ``learn.callback_fns.append(partial(GANDiscriminativeLR, mult_lr=5.))``."""

    def __init__(self, learn=None, mult_lr=5.):
        super().__init__(learn)
        # (the rate is multiplied by it at each critic batch and divided by it after the step)
        if not is_positive_number(mult_lr):
            raise ValueError(f"GANDiscriminativeLR: mult_lr must be a finite number > 0, got "
                             f"{mult_lr!r}")
        self.mult_lr = mult_lr

    def begin_fit(self):
        gan_trainer_of(self)

    def begin_batch(self):
        self.multiplied = self.learn.training and not self.learn.gan_trainer.gen_mode
        if self.multiplied:
            self.learn.opt.lr = _scale(self.learn.opt.lr, self.mult_lr)

    def after_step(self):
        if self.multiplied:
            self.learn.opt.lr = _scale(self.learn.opt.lr, 1 / self.mult_lr)
            self.multiplied = False


def _scale(lr, factor):
    return [v * factor for v in lr] if isinstance(lr, (list, tuple)) else lr * factor


# ---- the learner -------------------------------------------------------------------------------


class GANLearner(Learner):
    """A Learner whose model is a :class:`GANModule` and whose loss is a :class:`GANLoss`, trained
    by a :class:`GANTrainer` (``learn.gan_trainer``) and a switcher (default: five critic
    batches per generator batch).  ``switcher`` is a callback, or a function of the learner that
    makes one (fastai's ``partial(AdaptiveGANSwitcher, critic_thresh=0.65)``, then one of the
    learner's ``callback_fns``, made afresh at each fit).  The other keywords go to ``Learner``
    (``opt_func``, ``wd``, ``path``, ``callback_fns``, ...).  ``save``/``load`` hold both models
    and both optimizers (``Learner.save`` keeps ``learn.opt``: only the one whose turn it is)."""

    def __init__(self, data, generator, critic, gen_loss_func, crit_loss_func, switcher=None,
                 gen_first=False, switch_eval=True, show_img=True, clip=None, gp=None,
                 **learn_kwargs):
        gan = GANModule(generator, critic)
        loss_func = GANLoss(gen_loss_func, crit_loss_func, gan)
        if switcher is None:
            switcher = partial(FixedGANSwitcher, n_crit=5, n_gen=1)
        elif not isinstance(switcher, Callback) and not callable(switcher):
            raise TypeError(f"GANLearner: switcher must be a Callback (such as "
                            f"FixedGANSwitcher(n_crit=5, n_gen=1)) or a function that makes one "
                            f"(such as partial(AdaptiveGANSwitcher, critic_thresh=0.65)), got "
                            f"{switcher!r}")
        callbacks = list(learn_kwargs.pop("callbacks", None) or [])
        callback_fns = learn_kwargs.pop("callback_fns", None) or []
        callback_fns = (list(callback_fns) if isinstance(callback_fns, (list, tuple))
                        else [callback_fns])
        if isinstance(switcher, Callback):
            callbacks = [switcher] + callbacks
        else:  # made afresh at each fit, with the learner (fastai's callback_fns)
            callback_fns = [switcher] + callback_fns
        super().__init__(data, gan, loss_func=loss_func, callbacks=callbacks,
                         callback_fns=callback_fns, **learn_kwargs)
        self.gan_trainer = GANTrainer(self, clip=clip, gp=gp, switch_eval=switch_eval,
                                      show_img=show_img, gen_first=gen_first)
        self.callbacks.append(self.gan_trainer)

    # ---- checkpoints: both models and both optimizers -------------------------------------------
    def _opt_states(self):
        """Both optimizers' states (``learn.opt`` is only the one whose turn it is), whichever
        turn the checkpoint is saved in."""
        trainer = self.gan_trainer
        if trainer.opt_gen is None:
            return {}
        return {"opt_gen": trainer.opt_gen.state_dict(),
                "opt_critic": trainer.opt_critic.state_dict()}

    def _load_opt_states(self, state):
        """Both optimizers' states, into optimizers made first when this learner has none (a
        new session); all or nothing.  A checkpoint with one ``'opt'`` (written by
        ``Learner.save`` before GAN checkpoints held both) goes to the optimizer it fits: the
        generator's or the critic's, whichever turn it was saved in."""
        trainer = self.gan_trainer
        saved = [(key, state[key]) for key in ("opt_gen", "opt_critic") if key in state]
        if not saved and "opt" not in state:
            return
        made = trainer.opt_gen is None
        if made:
            had_opt = self.opt is not None
            trainer.create_opts()
        opts = {"opt_gen": trainer.opt_gen, "opt_critic": trainer.opt_critic}
        before = {key: (opt.opt.param_groups, opt.opt.state) for key, opt in opts.items()}
        try:
            if saved:
                for key, opt_state in saved:
                    opts[key].load_state_dict(opt_state)
            else:
                _load_into_either(opts, state["opt"])
        except Exception:
            if made:
                trainer.opt_gen = trainer.opt_critic = None
                if not had_opt:
                    self.opt = None
            else:  # a load replaces these two lists; the old ones are untouched
                for key, (groups, opt_state) in before.items():
                    opts[key].opt.param_groups, opts[key].opt.state = groups, opt_state
            raise
        self.opt = trainer.opt_gen if trainer.gen_mode else trainer.opt_critic

    @classmethod
    def from_learners(cls, learn_gen, learn_crit, switcher=None, weights_gen=None,
                      **learn_kwargs):
        """A GAN from a generator's and a critic's learners (e.g. both pretrained): their models,
        and the losses of :func:`gan_loss_from_func` from their loss functions."""
        losses = gan_loss_from_func(learn_gen.loss_func, learn_crit.loss_func,
                                    weights_gen=weights_gen)
        return cls(learn_gen.data, learn_gen.model, learn_crit.model, *losses, switcher=switcher,
                   **learn_kwargs)

    @classmethod
    def wgan(cls, data, generator, critic, switcher=None, clip=0.01, **learn_kwargs):
        """A Wasserstein GAN: :class:`NoopLoss` for the generator, :class:`WassersteinLoss` for
        the critic, weights clipped to ±``clip``."""
        return cls(data, generator, critic, NoopLoss(), WassersteinLoss(), switcher=switcher,
                   clip=clip, **learn_kwargs)

    @classmethod
    def wgan_gp(cls, data, generator, critic, switcher=None, gp=10., **learn_kwargs):
        """A Wasserstein GAN with a gradient penalty (WGAN-GP): :meth:`wgan`'s losses, no
        clipping, and every critic batch's loss plus :class:`GradientPenalty` of weight ``gp``
        (the paper's λ = 10).  The critic must have no batchnorm
        (``basic_critic(..., norm_type=None)``)."""
        return cls(data, generator, critic, NoopLoss(), WassersteinLoss(), switcher=switcher,
                   clip=None, gp=gp, **learn_kwargs)

    def show_results(self, ds_type=DatasetType.Train, rows=8, figsize=None, path=None,
                     imgsize=None):
        """A ``rows × rows`` grid of generated images (from the noise of ``ds_type``'s loader),
        denormalised, saved as a PNG at ``path``; ``imgsize`` inches per image (when no
        ``figsize``).  Call ``learn.gan_trainer.switch(gen_mode=True)``
        first, as the notebook does (``fit`` ends in generator mode anyway)."""
        if not self.model.gen_mode:
            raise RuntimeError("GANLearner.show_results: the model is in critic mode; call "
                               "learn.gan_trainer.switch(gen_mode=True) first")
        noise = []
        for xb, _ in self.data.dl(ds_type):
            noise.append(xb)
            if sum(len(n) for n in noise) >= rows * rows:
                break
        noise = cat(noise, 0)[:rows * rows]
        with eval_mode(self.model.generator), no_grad():
            fakes = self.model.generator(noise)
        return image_grid(denorm_images(self.data, fakes), rows=rows, figsize=figsize, path=path,
                          imgsize=imgsize)


def _load_into_either(opts, opt_state):
    """Load one optimizer's state into whichever of ``opts`` it fits (a failed load changes
    nothing); a ValueError with both reasons when it fits neither."""
    errors = []
    for key, opt in opts.items():
        try:
            opt.load_state_dict(opt_state)
            return
        except ValueError as error:
            errors.append(f"{key}: {error}")
    raise ValueError("GANLearner.load: the checkpoint's optimizer state fits neither the "
                     "generator's nor the critic's optimizer (" + "; ".join(errors) + ")")


# ---- pictures ----------------------------------------------------------------------------------


def denorm_images(data, images):
    """Generated images (a Tensor in the targets' normalisation) as NumPy pixels in [0, 1]: the
    data's denormalisation when its targets are normalised (``normalize(..., do_y=True)``),
    else the [−1, 1] → [0, 1] map ``x / 2 + 0.5`` (the range of the generator's tanh)."""
    array = backend.to_numpy(images.array if hasattr(images, "array") else images)
    if getattr(data, "norm_y", False):
        array = data.denorm(array)
    else:
        array = array / 2 + 0.5
    return numpy.clip(array, 0, 1)


def image_grid(images, rows=None, figsize=None, path=None, title=None, imgsize=None):
    """Images (N, C, H, W) in [0, 1] as a square grid, ``imgsize`` inches per image (0.9 by
    default) unless ``figsize`` is given; saved as a PNG at ``path``."""
    n = len(images)
    rows = rows if rows is not None else int(numpy.ceil(numpy.sqrt(n)))
    cols = int(numpy.ceil(n / rows))
    imgsize = 0.9 if imgsize is None else imgsize
    figsize = figsize if figsize is not None else (cols * imgsize, rows * imgsize)
    cmap = "gray" if images.shape[1] == 1 else None

    def draw(i, j, ax):
        k = i * cols + j
        if k < n:
            show_image(images[k], ax=ax, cmap=cmap)
        else:
            ax.set_axis_off()
    return plot_multi(draw, rows, cols, figsize=figsize, path=path, title=title)


# ---- the data ----------------------------------------------------------------------------------


class NoisyItem:
    """A fresh noise vector of shape (noise_sz, 1, 1), drawn from minitorch's generator when it
    is made (fastai's ``NoisyItem``)."""

    def __init__(self, noise_sz):
        self.obj = noise_sz
        self.data = backend.rng().standard_normal((noise_sz, 1, 1)).astype(numpy.float32)

    def __repr__(self):
        return f"NoisyItem({self.obj})"


class GANItemList(ImageList):
    """A GAN's inputs: item ``i`` is a fresh noise vector (a :class:`NoisyItem`) at every access;
    the images it lists become the *targets* (``label_from_func(noop)`` labels each with
    itself; ``_label_cls`` is ImageList).  The notebook's data, in our words::

        data = (GANItemList.from_arrays(images, noise_sz=100)   # or .from_folder(path, ...)
                .split_none()
                .label_from_func(noop)
                .databunch(bs=64)
                .normalize(stats=([0.5], [0.5]), do_x=False, do_y=True))   # targets in [-1, 1]

    Transforms apply to the targets (``tfm_y=True``) and never to the noise.
    """

    _label_cls = ImageList

    def __init__(self, items, path=".", *, noise_sz=100, **kwargs):
        # noise_sz is keyword-only (fastai's came second): ImageList's own constructors pass
        # path second.
        if not isinstance(noise_sz, int) or noise_sz < 1:
            raise ValueError(f"GANItemList: noise_sz must be a positive integer, got {noise_sz!r}")
        super().__init__(items, path, **kwargs)
        self.noise_sz = noise_sz

    def _new_kwargs(self):
        return {**super()._new_kwargs(), "noise_sz": self.noise_sz}

    def _func_items(self):
        # Images held in memory are labelled with their own pixels (an ImageList item may be an
        # array); files with their paths.
        return list(self.pixels) if self.in_memory else super()._func_items()

    def get(self, i):
        return NoisyItem(self.noise_sz).data

    def get_batch(self, indices):
        return backend.rng().standard_normal(
            (len(indices), self.noise_sz, 1, 1)).astype(numpy.float32)

    def apply_tfms(self, batch, tfms, draws, rng, size=None, is_y=False):
        return batch  # noise is not an image: crops, flips and sizes are for the targets

    def collate(self, batch):
        return numpy.asarray(batch, dtype=numpy.float32)

    def reconstruct(self, t):
        return NoisyItem(t.shape[0])

    def show_xys(self, xs, ys, rows=3, figsize=(9, 9), path=None, cmap=None, imgsize=None):
        """The target images (the noise is not worth a look)."""
        return ImageList.show_xys(self, ys, [""] * len(ys), rows, figsize, path, cmap, imgsize)

    def show_xyzs(self, xs, ys, zs, rows=3, figsize=(6, 6), path=None, cmap=None, imgsize=None):
        """The generated images."""
        return ImageList.show_xys(self, zs, [""] * len(zs), rows, figsize, path, cmap, imgsize)

    def __repr__(self):
        return f"{super().__repr__()}\nnoise_sz {self.noise_sz}"


def noop(x):
    """The identity: ``label_from_func(noop)`` labels each image with itself."""
    return x
