"""GAN training (``minitorch/vision/gan.py``): the losses, the turn-taking of GANTrainer and the
switchers over short fits, clipping, requires_grad and train/eval, the epoch table and sample
grids, two critic steps and two generator steps of a WGAN and of a WGAN-GP
(GANLearner.wgan / wgan_gp) against a PyTorch twin (float64), and WGAN-GP's gradient penalty
(its value and its gradient with respect to the critic's weights) against PyTorch's."""
from functools import partial

import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.data import ArrayDataset, DataBunch, DataLoader
from minitorch.learner import Callback, Learner, accuracy_thresh_expand
from minitorch.learner.callbacks import SmoothenValue
from minitorch.nn import functional as F
from minitorch.optim import Adam
from minitorch.vision import (
    AdaptiveGANSwitcher, AdaptiveLoss, FixedGANSwitcher, Flatten, GANDiscriminativeLR,
    GANItemList, GANLearner, GANTrainer, GradientPenalty, NoisyItem, NoopLoss, WassersteinLoss,
    gan_loss_from_func, noop)
from minitorch.vision.models import basic_critic, basic_generator

from tests.torch_compare import assert_close, tolerance
from tests.torch_twins_gan import (
    copy_weights, torch_basic_critic, torch_basic_generator, torch_gan_step,
    torch_gradient_penalty)

NOISE, SIZE = 4, 8


def tiny_data(n=16, bs=2, dtype=np.float32, seed=0):
    """``n`` (noise, image) pairs, unshuffled, so that batch k is known."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, NOISE, 1, 1)).astype(dtype)
    images = rng.uniform(-1, 1, (n, 1, SIZE, SIZE)).astype(dtype)
    ds = ArrayDataset(noise, images)
    return DataBunch(DataLoader(ds, bs, drop_last=True), DataLoader(ds, bs)), noise, images


def tiny_wgan(tmp_path, switcher=None, data=None, with_gp=False, **kwargs):
    """GANLearner.wgan on tiny models; ``with_gp``: GANLearner.wgan_gp, its critic without
    batchnorm."""
    minitorch.manual_seed(0)
    data = data if data is not None else tiny_data()[0]
    kwargs.setdefault("switch_eval", False)
    make = GANLearner.wgan_gp if with_gp else GANLearner.wgan
    critic_kwargs = dict(norm_type=None) if with_gp else {}
    return make(data, basic_generator(SIZE, 1, noise_sz=NOISE, n_features=4),
                basic_critic(SIZE, 1, n_features=4, **critic_kwargs), switcher=switcher,
                opt_func=partial(Adam, betas=(0., 0.99)), wd=0., path=tmp_path, silent=True,
                **kwargs)


class Spy(Callback):
    """Records, at each training batch after the GANTrainer set it up, whose turn it is and the
    state of both models."""

    order = -15

    def begin_fit(self):
        self.turns, self.states, self.lrs = "", [], []

    def begin_batch(self):
        learn = self.learn
        if not learn.training:
            return
        trainer = learn.gan_trainer
        self.turns += "G" if trainer.gen_mode else "C"
        g, c = learn.model.generator, learn.model.critic
        self.states.append(dict(
            gen_grad={p.requires_grad for p in g.parameters()},
            crit_grad={p.requires_grad for p in c.parameters()},
            gen_train={m.training for m in g.modules()},
            crit_train={m.training for m in c.modules()},
            crit_max=max(float(abs(p.array).max()) for p in c.parameters()),
            opt_is_gen=learn.opt is trainer.opt_gen,
            grads_none=all(p.grad is None for p in learn.model.parameters())))

    def after_backward(self):
        self.lrs.append(self.learn.opt.lr)


# ---- switchers: the order of critic and generator batches ---------------------------------------
SWITCHER_CASES = [
    # (switcher, gen_first, 16 batches over two epochs of 8)
    (FixedGANSwitcher(n_crit=5, n_gen=1), False, "CCCCCGCCCCCGCCCC"),
    (FixedGANSwitcher(n_crit=1, n_gen=1), False, "CGCGCGCGCGCGCGCG"),
    (FixedGANSwitcher(n_crit=2, n_gen=3), False, "CCGGGCCGGGCCGGGC"),
    (FixedGANSwitcher(n_crit=2, n_gen=3), True, "GGGCCGGGCCGGGCCG"),
    # a function of the generator's batches so far (fastai v1 always passed 0; see gan.py)
    (FixedGANSwitcher(n_crit=lambda n_gen: 3 if n_gen < 2 else 1), False, "CCCGCCCGCGCGCGCG"),
    (AdaptiveGANSwitcher(), False, "CGCGCGCGCGCGCGCG"),
]


@pytest.mark.parametrize("switcher, gen_first, expected", SWITCHER_CASES)
def test_switcher_sequence(tmp_path, switcher, gen_first, expected):
    learn = tiny_wgan(tmp_path, switcher=switcher, gen_first=gen_first)
    spy = Spy()
    learn.fit(2, 1e-3, callbacks=[spy])
    assert spy.turns == expected
    # each turn steps its own model's optimizer, and no gradient is left from the step before
    assert [s["opt_is_gen"] for s in spy.states] == [t == "G" for t in expected]
    assert all(s["grads_none"] for s in spy.states)
    assert len(learn.gan_trainer.glosses) == expected.count("G")
    assert len(learn.gan_trainer.closses) == expected.count("C")
    assert learn.model.gen_mode and learn.loss_func.gen_mode  # fit ends in generator mode


def test_adaptive_switcher_follows_the_critic_threshold(tmp_path):
    """The critic keeps its turn until its loss is below critic_thresh; the generator (no
    threshold) gives the turn back after every batch."""
    scripted = iter([0.9, 0.8, 0.5, 0.7, 0.3, 0.66, 0.64, 0.1, 0.9, 0.2, 0.9, 0.9, 0.9])

    def crit_loss(real_pred, fake_pred):
        return (real_pred.mean() - fake_pred.mean()) * 0 + next(scripted)

    minitorch.manual_seed(0)
    learn = GANLearner(tiny_data()[0], basic_generator(SIZE, 1, noise_sz=NOISE, n_features=4),
                       basic_critic(SIZE, 1, n_features=4), NoopLoss(), crit_loss,
                       switcher=partial(AdaptiveGANSwitcher, critic_thresh=0.65),
                       switch_eval=False, path=tmp_path, silent=True)
    spy = Spy()
    learn.fit(2, 1e-3, callbacks=[spy])
    # critic losses 0.9 0.8 0.5 | 0.7 0.3 | 0.66 0.64 | 0.1 | 0.9 0.2 | 0.9: the turn passes at 0.5,
    # 0.3, 0.64, 0.1, 0.2
    assert spy.turns == "CCCGCCGCCGCGCCGC"


# ---- what each turn sets -----------------------------------------------------------------------
@pytest.mark.parametrize("switch_eval", [True, False])
def test_requires_grad_and_train_eval_follow_the_turn(tmp_path, switch_eval):
    learn = tiny_wgan(tmp_path, switcher=FixedGANSwitcher(n_crit=2, n_gen=1), switch_eval=switch_eval)
    spy = Spy()
    learn.fit(2, 1e-3, callbacks=[spy])
    for turn, s in zip(spy.turns, spy.states):
        gen = turn == "G"
        assert s["gen_grad"] == {gen} and s["crit_grad"] == {not gen}
        if switch_eval:
            assert s["gen_train"] == {gen} and s["crit_train"] == {not gen}
        else:
            assert s["gen_train"] == {True} and s["crit_train"] == {True}


def test_critic_weights_are_clipped_before_each_batch(tmp_path):
    clip, lr = 0.01, 1e-3
    learn = tiny_wgan(tmp_path, clip=clip)
    assert max(float(abs(p.array).max()) for p in learn.model.critic.parameters()) > 5 * clip
    spy = Spy()
    learn.fit(1, lr, callbacks=[spy])
    assert all(s["crit_max"] <= clip for s in spy.states)
    # after the last critic step the weights moved by at most Adam's largest step from ±clip
    # (betas (0, 0.99): |step| ≤ lr / sqrt(1 − 0.99) = 10·lr)
    after = max(float(abs(p.array).max()) for p in learn.model.critic.parameters())
    assert clip < after <= clip + 10 * lr + 1e-9


def test_discriminative_lr_multiplies_the_critic_lr_only(tmp_path):
    learn = tiny_wgan(tmp_path, switcher=FixedGANSwitcher(n_crit=2, n_gen=1))
    spy = Spy()
    learn.fit(1, 1e-3, callbacks=[spy, GANDiscriminativeLR(mult_lr=5.)])
    assert spy.lrs == pytest.approx([5e-3 if t == "C" else 1e-3 for t in spy.turns])
    assert learn.gan_trainer.opt_critic.lr == pytest.approx(1e-3)


def test_epoch_table_and_sample_grids(tmp_path, capsys):
    learn = tiny_wgan(tmp_path)
    learn.callbacks[2].print_table = True  # the ProgressCallback, silent otherwise
    learn.fit(2, 1e-3)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "gen_loss", "disc_loss", "time"]
    assert [line.split()[0] for line in lines[1:]] == ["0", "1"]
    trainer = learn.gan_trainer
    assert [row[-2:] for row in learn.recorder.metrics][-1] == pytest.approx(
        [trainer.glosses[-1], trainer.closses[-1]])
    for epoch in (0, 1):
        assert (tmp_path / "gan_samples" / f"epoch_{epoch}.png").stat().st_size > 0
    learn.show_results(rows=2, path=tmp_path / "final.png")
    assert (tmp_path / "final.png").stat().st_size > 0


# ---- the losses ----------------------------------------------------------------------------------
def test_wasserstein_and_noop_losses():
    real, fake = minitorch.tensor([0.5, -1.0, 2.0]), minitorch.tensor([[1.0, 3.0]])
    assert WassersteinLoss()(real, fake).item() == pytest.approx(0.5 - 2.0)
    assert NoopLoss()(fake, real).item() == pytest.approx(2.0)
    # sign: one critic step on the Wasserstein loss lowers C(real) and raises C(fake)
    minitorch.manual_seed(0)
    critic = minitorch.nn.Linear(3, 1)
    opt = minitorch.optim.SGD(critic.parameters(), lr=0.1)
    x_real, x_fake = minitorch.randn(8, 3) + 1, minitorch.randn(8, 3) - 1
    before = [critic(x_real).mean().item(), critic(x_fake).mean().item()]
    WassersteinLoss()(critic(x_real), critic(x_fake)).backward()
    opt.step()
    after = [critic(x_real).mean().item(), critic(x_fake).mean().item()]
    assert after[0] < before[0] and after[1] > before[1]


@pytest.mark.parametrize("weights_gen", [None, (1., 50.), (0.5, 2.)])
def test_gan_loss_from_func_against_torch(weights_gen):
    rng = np.random.default_rng(1)
    fake_pred, real_pred = rng.standard_normal(6), rng.standard_normal(6)
    output, target = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    loss_G, loss_C = gan_loss_from_func(F.mse_loss, F.binary_cross_entropy_with_logits,
                                        weights_gen)
    w = weights_gen or (1., 1.)
    t = {k: torch.tensor(v) for k, v in dict(fake_pred=fake_pred, real_pred=real_pred,
                                             output=output, target=target).items()}
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected_G = (w[0] * bce(t["fake_pred"], torch.ones(6, dtype=torch.float64))
                  + w[1] * torch.nn.functional.mse_loss(t["output"], t["target"]))
    expected_C = (bce(t["real_pred"], torch.ones(6, dtype=torch.float64))
                  + bce(t["fake_pred"], torch.zeros(6, dtype=torch.float64))) / 2
    m = {k: minitorch.tensor(v) for k, v in dict(fake_pred=fake_pred, real_pred=real_pred,
                                                 output=output, target=target).items()}
    assert loss_G(m["fake_pred"], m["output"], m["target"]).item() == pytest.approx(
        expected_G.item(), rel=1e-12)
    assert loss_C(m["real_pred"], m["fake_pred"]).item() == pytest.approx(
        expected_C.item(), rel=1e-12)


def test_adaptive_loss_expands_the_target():
    rng = np.random.default_rng(2)
    logits, target = rng.standard_normal((4, 25)), np.array([1., 0., 1., 1.])
    loss = AdaptiveLoss(minitorch.nn.BCEWithLogitsLoss())(minitorch.tensor(logits),
                                                          minitorch.tensor(target))
    expected = torch.nn.BCEWithLogitsLoss()(torch.tensor(logits),
                                            torch.tensor(target)[:, None].expand(4, 25))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)


@pytest.mark.parametrize("target_dtype", ["int64", "float32", "bool"])
@pytest.mark.parametrize("shape", [(4, 25), (4, 1, 5, 5)])
def test_accuracy_thresh_expand(target_dtype, shape):
    """sigmoid(pred) > 0.5 against each row's label expanded; whatever the label's dtype (fastai
    v1 compared a bool tensor with a byte tensor and crashed on newer PyTorch, course-v3#386)."""
    rng = np.random.default_rng(3)
    pred = rng.standard_normal(shape)
    target = np.array([1, 0, 1, 0]).astype(target_dtype)
    expected = ((1 / (1 + np.exp(-pred)) > 0.5)
                == target.astype(bool).reshape(4, *[1] * (len(shape) - 1))).mean()
    got = accuracy_thresh_expand(minitorch.tensor(pred), minitorch.tensor(target))
    assert got.item() == pytest.approx(expected)


# ---- the data ------------------------------------------------------------------------------------
def test_gan_item_list_fresh_noise_and_normalised_targets():
    """The notebook's data block: noise inputs drawn afresh at every access, the images as
    targets, normalised to [−1, 1]."""
    images = np.random.default_rng(0).integers(0, 256, (70, 1, 4, 4)).astype(np.uint8)
    images[:, 0, 0, 0] = np.arange(70)  # every image different
    items = GANItemList.from_arrays(images, noise_sz=7)
    assert items[3].data.shape == (7, 1, 1) and not np.array_equal(items[3].data, items[3].data)
    assert NoisyItem(5).data.shape == (5, 1, 1)
    data = (items.split_none().label_from_func(noop).databunch(bs=8, seed=0)
            .normalize(stats=([0.5], [0.5]), do_x=False, do_y=True))
    assert len(data.train_ds) == 70 and len(data.valid_ds) == 0
    batches = [(xb.numpy(), yb.numpy()) for xb, yb in data.train_dl]
    assert len(batches) == 70 // 8
    assert {xb.shape for xb, _ in batches} == {(8, 7, 1, 1)}
    noise_a = next(iter(data.train_dl))[0].numpy()
    noise_b = next(iter(data.train_dl))[0].numpy()
    assert not np.array_equal(noise_a, noise_b)  # a new epoch: new noise
    targets = np.concatenate([yb for _, yb in batches])
    assert targets.min() >= -1 and targets.max() <= 1
    # each target is one of the images, mapped 0 → −1, 255 → 1
    expected = images.astype(np.float32) / 255 * 2 - 1
    matches = [np.flatnonzero(np.abs(expected - t).reshape(70, -1).max(1) < 1e-6)
               for t in targets]
    assert all(len(m) == 1 for m in matches)
    assert len({int(m[0]) for m in matches}) == len(targets)  # no image twice in an epoch
    with pytest.raises(ValueError, match="noise_sz"):
        GANItemList.from_arrays(images, noise_sz=0)


# ---- critic steps and generator steps against PyTorch, float64 ----------------------------------
def _as_dict(model):
    return {k: v.numpy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("variant", ["wgan", "wgan_gp"])
def test_critic_and_generator_steps_match_torch(tmp_path, variant):
    """GANLearner.wgan (or .wgan_gp) trains batches 0 and 2 as critic steps and 1 and 3 as
    generator steps; the same four steps written out in torch (``torch_gan_step``) from the same
    weights give the same losses and weights.  WGAN-GP: a critic without batchnorm, no clipping,
    the critic's loss plus the gradient penalty (the learner's interpolation weights recorded
    and given to torch's)."""
    data, noise, images = tiny_data(n=16, bs=4, dtype=np.float64)
    with_gp = variant == "wgan_gp"
    learn = tiny_wgan(tmp_path, switcher=FixedGANSwitcher(n_crit=1, n_gen=1), data=data,
                      show_img=False, with_gp=with_gp)
    learn.model.double()
    t_gen = torch_basic_generator(SIZE, 1, noise_sz=NOISE, n_features=4).double()
    t_crit = torch_basic_critic(SIZE, 1, n_features=4, norm=not with_gp).double()
    copy_weights(learn.model.generator, t_gen)
    copy_weights(learn.model.critic, t_crit)
    drawn_eps = []
    if with_gp:
        penalty, rng = learn.gan_trainer.gradient_penalty, np.random.default_rng(4)

        def penalty_with_known_eps(critic, real, fake):
            drawn_eps.append(rng.random(len(real)))
            return penalty(critic, real, fake, eps=minitorch.tensor(drawn_eps[-1]))
        learn.gan_trainer.gradient_penalty = penalty_with_known_eps
    lr = 1e-3
    initial = {name: {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
               for name, model in [("generator", learn.model.generator),
                                   ("critic", learn.model.critic)]}
    learn.fit(1, lr)

    opt_c = torch.optim.Adam(t_crit.parameters(), lr=lr, betas=(0., 0.99))
    opt_g = torch.optim.Adam(t_gen.parameters(), lr=lr, betas=(0., 0.99))
    clip, gp = (None, 10.) if with_gp else (0.01, None)
    closses, glosses = [], []
    for k in range(4):
        z, x = torch.tensor(noise[4 * k:4 * k + 4]), torch.tensor(images[4 * k:4 * k + 4])
        if k % 2:
            glosses.append(torch_gan_step(t_gen, t_crit, opt_g, True, z, clip=clip))
        else:
            eps = torch.tensor(drawn_eps[k // 2]) if with_gp else None
            closses.append(torch_gan_step(t_gen, t_crit, opt_c, False, z, x, clip=clip, gp=gp,
                                          gp_eps=eps))

    trainer = learn.gan_trainer
    assert len(drawn_eps) == (2 if with_gp else 0)  # a penalty in each critic step, no other
    for mine, raw in [(trainer.closses, closses), (trainer.glosses, glosses)]:
        smoothener = SmoothenValue(trainer.beta)  # the table's losses are smoothed
        assert mine == pytest.approx([smoothener.add_value(v) for v in raw], rel=1e-9, abs=1e-12)
    for name, mt_model, t_model in [("generator", learn.model.generator, t_gen),
                                    ("critic", learn.model.critic, t_crit)]:
        mine, theirs = _as_dict(mt_model), {k: v.numpy() for k, v in
                                            t_model.state_dict().items()}
        assert mine.keys() == theirs.keys()
        worst = sorted(((float(np.abs(mine[k] - theirs[k]).max()), k) for k in mine),
                       reverse=True)[:3]
        assert worst[0][0] < 1e-10, f"{name}: worst mismatches {worst}"
        # every weight moved in the steps that trained it: the comparison is not vacuous
        unchanged = [n for n, p in mt_model.named_parameters()
                     if np.array_equal(p.detach().numpy(), initial[name][n])]
        assert not unchanged, f"{name}: parameters not updated: {unchanged}"


def test_from_learners_combines_the_two_losses(tmp_path):
    """GANLearner.from_learners: generator loss = w0 · critic loss on fakes labelled real +
    w1 · the generator learner's loss; critic loss = the mean of real-as-1 and fake-as-0."""
    rng = np.random.default_rng(4)
    crappy = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
    target = rng.standard_normal((8, 1, 8, 8)).astype(np.float32)
    ds = ArrayDataset(crappy, target)
    data = DataBunch(DataLoader(ds, 4, drop_last=True), DataLoader(ds, 4))
    minitorch.manual_seed(0)
    learn_gen = Learner(data, nn.Conv2d(1, 1, 3, padding=1), loss_func=F.mse_loss)
    learn_crit = Learner(data, nn.Sequential(nn.Conv2d(1, 1, 4, stride=2), Flatten()),
                         loss_func=AdaptiveLoss(nn.BCEWithLogitsLoss()))
    learn = GANLearner.from_learners(learn_gen, learn_crit, weights_gen=(1., 50.),
                                     switcher=partial(AdaptiveGANSwitcher, critic_thresh=0.65),
                                     path=tmp_path, silent=True)
    G, C = learn.model.generator, learn.model.critic
    x, y = minitorch.tensor(crappy[:4]), minitorch.tensor(target[:4])
    bce = nn.BCEWithLogitsLoss()
    with minitorch.no_grad():
        fake = G(x)
        fake_pred, real_pred = C(fake), C(y)
        ones, zeros = minitorch.ones(*fake_pred.shape), minitorch.zeros(*fake_pred.shape)
        expected_G = bce(fake_pred, ones).item() + 50 * F.mse_loss(fake, y).item()
        expected_C = (bce(real_pred, ones).item() + bce(fake_pred, zeros).item()) / 2
        learn.model.switch(True)
        learn.loss_func.switch(True)
        assert learn.loss_func(learn.model(x), y).item() == pytest.approx(expected_G, rel=1e-6)
        learn.model.switch(False)
        learn.loss_func.switch(False)
        assert learn.loss_func(learn.model(y), x).item() == pytest.approx(expected_C, rel=1e-6)
    # the switcher given as a function (fastai's partial) is one of the learner's callback_fns,
    # called with the learner at each fit
    switchers = [fn(learn) for fn in learn.callback_fns]
    assert len(switchers) == 1 and isinstance(switchers[0], AdaptiveGANSwitcher)
    assert switchers[0].critic_thresh == 0.65 and switchers[0].learn is learn
    learn.fit(1, 1e-3)  # it trains: the critic's turn first, kept while its loss is ≥ 0.65
    assert len(learn.gan_trainer.closses) >= 1


# ---- WGAN-GP: the gradient penalty --------------------------------------------------------------
GP_CRITICS = ["batch mean", "per image", "batchnorm in eval mode"]


def gp_critics(kind, dtype):
    """A small basic_critic (16 px, conv + LeakyReLU(0.2)) and its torch twin with the same
    weights.  ``kind``: without batchnorm (``norm_type=None``, WGAN-GP's critic) scoring the
    batch's mean (AvgFlatten) or each image (Flatten); or with batchnorm in eval mode (an affine
    map per channel), its weights, biases and running statistics random."""
    minitorch.manual_seed(2)
    with_bn = kind == "batchnorm in eval mode"
    mt = basic_critic(16, 1, n_features=4, **({} if with_bn else dict(norm_type=None)))
    th = torch_basic_critic(16, 1, n_features=4, norm=with_bn)
    mt, th = (mt.double(), th.double()) if dtype == "float64" else (mt, th)
    if with_bn:
        rng = np.random.default_rng(3)
        ranges = {"weight": (0.5, 1.5), "running_var": (0.5, 1.5), "bias": (-0.5, 0.5),
                  "running_mean": (-0.5, 0.5)}
        mt.load_state_dict({k: minitorch.tensor(rng.uniform(*ranges[k.rsplit(".", 1)[1]],
                                                            v.shape).astype(dtype))
                            if v.ndim == 1 and k.rsplit(".", 1)[1] in ranges else v
                            for k, v in mt.state_dict().items()})
        mt.eval()
        th.eval()
    copy_weights(mt, th)
    if kind == "per image":
        mt[-1], th[-1] = minitorch.nn.Flatten(), torch.nn.Flatten()
    return mt, th


@pytest.mark.parametrize("kind", GP_CRITICS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradient_penalty_and_its_gradient_match_torch(kind, dtype):
    """The penalty's value, and its gradient with respect to every weight of the critic (mixed
    second derivatives ∂²C/∂x∂θ, through autograd.grad(..., create_graph=True)), as torch's
    (``torch.autograd.grad(..., create_graph=True)``).  The real batch comes as a transposed
    view (not contiguous), the fake one as a single image broadcast over the batch."""
    mt_critic, torch_critic = gp_critics(kind, dtype)
    rng = np.random.default_rng(5)
    real = rng.uniform(-1, 1, (6, 1, 16, 16)).astype(dtype)
    fake = rng.uniform(-1, 1, (1, 1, 16, 16)).astype(dtype)
    eps = rng.random(6).astype(dtype)
    mt_real = minitorch.tensor(real.transpose(0, 1, 3, 2).copy()).transpose(2, 3)
    mt_fake = minitorch.tensor(fake).expand(6, 1, 16, 16)
    assert not mt_real.is_contiguous()
    penalty = GradientPenalty(10.)(mt_critic, mt_real, mt_fake, eps=minitorch.tensor(eps))
    expected = torch_gradient_penalty(torch_critic, torch.tensor(real),
                                      torch.tensor(fake).expand(6, 1, 16, 16), torch.tensor(eps))
    tol = tolerance(dtype)
    assert penalty.dtype == getattr(minitorch, dtype)
    assert_close(penalty, expected, what="penalty", **tol)
    assert expected.item() > 1e-3  # the norms are not all 1: the penalty has a gradient
    upstream = float(rng.uniform(0.5, 2))  # a random upstream gradient
    (penalty * upstream).backward()
    (expected * upstream).backward()
    theirs = dict(torch_critic.named_parameters())
    checked = 0
    for name, p in mt_critic.named_parameters():
        # A bias before a leaky ReLU (a conv's, a batchnorm's) moves no gradient ∇ₓC (the
        # slopes are piecewise constant): minitorch gives it none, torch a zero gradient (a
        # conv's) or none (a batchnorm's in eval mode, whose ∇ₓ is a product with the weight).
        if p.grad is None:
            their_grad = theirs[name].grad
            assert name.endswith("bias") and (their_grad is None or not their_grad.any()), \
                f"{name}: minitorch has no gradient, torch {their_grad}"
            continue
        assert float(abs(theirs[name].grad).max()) > 0
        assert_close(p.grad, theirs[name].grad, what=f"gradient of {name}", **tol)
        checked += 1
    assert checked >= 3 + (kind == "batchnorm in eval mode")  # every conv (and bn) weight


def test_gradient_penalty_draws_one_eps_per_image_from_the_seeded_generator():
    mt_critic, _ = gp_critics("batch mean", "float64")
    rng = np.random.default_rng(6)
    real, fake = (minitorch.tensor(a) for a in rng.uniform(-1, 1, (2, 5, 1, 16, 16)))
    penalty = GradientPenalty(2.5)
    minitorch.manual_seed(9)
    drawn = penalty(mt_critic, real, fake).item()
    minitorch.manual_seed(9)
    eps = minitorch.rand(5, dtype=minitorch.float64)
    assert 0 <= float(eps.min()) and float(eps.max()) < 1 and float(eps.std()) > 0
    assert drawn == pytest.approx(penalty(mt_critic, real, fake, eps=eps).item(), rel=1e-12)


def test_gradient_penalty_refuses_what_it_cannot_do(tmp_path):
    real = minitorch.zeros(2, 1, 16, 16)
    with pytest.raises(ValueError, match="BatchNorm2d in training mode"):
        GradientPenalty()(basic_critic(16, 1, n_features=4), real, real)
    critic = basic_critic(16, 1, n_features=4, norm_type=None)
    for fake in (minitorch.zeros(3, 1, 16, 16), minitorch.zeros(2, 1, 16, 8),
                 minitorch.zeros(2, 16, 16)):
        with pytest.raises(ValueError, match=r"one shape, got \(2, 1, 16, 16\) and \("):
            GradientPenalty()(critic, real, fake)
    for eps in (minitorch.rand(3), minitorch.rand(2, 1)):
        with pytest.raises(ValueError, match=r"eps must hold one weight per image, shape \(2,\)"):
            GradientPenalty()(critic, real, real, eps=eps)
    # GANLearner.wgan_gp with a critic like the clipped WGAN's (batchnorm after the convs but
    # the first): its first critic batch says what to build instead.
    critic = basic_critic(SIZE, 1, n_features=4, n_extra_layers=1)
    learn = GANLearner.wgan_gp(tiny_data()[0], basic_generator(SIZE, 1, noise_sz=NOISE,
                                                               n_features=4),
                               critic, path=tmp_path, silent=True, show_img=False)
    with pytest.raises(ValueError, match=r"norm_type=None"):
        learn.fit(1, 1e-3)
    for bad in (0, -1., float("nan"), float("inf"), True, "10"):
        with pytest.raises(ValueError, match="weight must be a positive"):
            GradientPenalty(bad)
        with pytest.raises(ValueError, match="gp must be None or a positive"):
            GANTrainer(gp=bad)
