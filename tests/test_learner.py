"""The Learner machinery against fastai v1's semantics (its source, ``fastai/fastai1``):
the one-cycle schedule, the lr finder, the recorder's smoothing and weighted validation means,
true weight decay, callback order and cancel exceptions, stopping on NaN, save/load, metrics,
freezing, and the summary's parameter totals for the lesson's three MNIST models.

The data is synthetic and tiny (which quadrant of a small image is bright), so every test runs
in well under a second; the lesson smoke test (``test_lessons.py``) uses the real MNIST.
"""
import math
from functools import partial

import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.data import CategoryList, DataBunch, DatasetType, EmptyLabelList, LabelList
from minitorch.learner import (
    Callback, CancelBatchException, CancelEpochException, CancelFitException, Learner, accuracy,
    accuracy_thresh, error_rate)
from minitorch.nn import functional as F
from minitorch.optim import SGD, Adam
from minitorch.vision import Flatten, ImageList
from minitorch.vision.models import basic_cnn, densenet_ish, refactored_cnn, resnet_ish
from torch_compare import to_numpy


# ---- data and models -------------------------------------------------------------------------------
def quadrant_data(n_train=64, n_valid=10, size=4, bs=8, val_bs=4, seed=0):
    """Images with one bright quadrant; the label is which one (4 classes)."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = rng.integers(0, 4, n)
        pixels = rng.integers(0, 60, (n, 1, size, size)).astype(np.uint8)
        h = size // 2
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 2)
            pixels[i, 0, r * h:(r + 1) * h, c * h:(c + 1) * h] += 180
        return LabelList(ImageList.from_arrays(pixels), CategoryList(labels, ["tl", "tr", "bl", "br"]))

    return DataBunch.create(make(n_train), make(n_valid), bs=bs, val_bs=val_bs, seed=seed)


def tiny_model(size=4):
    return nn.Sequential(Flatten(), nn.Linear(size * size, 8), nn.ReLU(), nn.BatchNorm1d(8),
                         nn.Linear(8, 4))


def make_learner(data=None, model=None, **kwargs):
    kwargs.setdefault("silent", True)
    kwargs.setdefault("metrics", accuracy)
    return Learner(data or quadrant_data(), model or tiny_model(), loss_func=F.cross_entropy,
                   **kwargs)


def weights(model):
    return {k: to_numpy(v).copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# ---- evaluating in the middle of training: every module keeps its own mode ----------------------
@pytest.mark.parametrize("evaluate", [
    lambda learn: learn.validate(),
    lambda learn: learn.get_preds(),
    lambda learn: learn.pred_batch(),
    lambda learn: learn.summary(),
], ids=["validate", "get_preds", "pred_batch", "summary"])
def test_evaluating_leaves_each_module_in_its_own_mode(evaluate):
    learn = make_learner()
    learn.model.train()
    learn.model[3].eval()  # a batchnorm kept in eval mode (frozen statistics) in a model that trains
    before = [m.training for m in learn.model.modules()]
    evaluate(learn)
    assert [m.training for m in learn.model.modules()] == before


# ---- one-cycle ---------------------------------------------------------------------------------------
def cos_anneal(start, end, pct):
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


@pytest.mark.parametrize("opt_func,max_lr,epochs,pct_start", [
    (partial(Adam, betas=(0.9, 0.99)), 0.1, 2, 0.3),
    (partial(SGD, momentum=0.9), 0.05, 3, 0.25),
    (partial(Adam, betas=(0.9, 0.99)), 0.01, 1, 0.5),
])
def test_one_cycle_schedule_follows_the_formulas(opt_func, max_lr, epochs, pct_start):
    learn = make_learner(opt_func=opt_func)
    seen = []

    class StepValues(Callback):  # what the optimizer actually holds when it steps
        def after_backward(self):
            group = self.learn.opt.param_groups[0]
            mom = group["betas"][0] if "betas" in group else group["momentum"]
            seen.append((group["lr"], mom))

    learn.fit_one_cycle(epochs, max_lr, pct_start=pct_start, callbacks=[StepValues()])
    n = len(learn.data.train_dl) * epochs
    warmup = int(n * pct_start)
    expected_lr = [cos_anneal(max_lr / 25, max_lr, i / warmup) if i < warmup else
                   cos_anneal(max_lr, max_lr / 25e4, (i - warmup) / (n - warmup)) for i in range(n)]
    expected_mom = [cos_anneal(0.95, 0.85, i / warmup) if i < warmup else
                    cos_anneal(0.85, 0.95, (i - warmup) / (n - warmup)) for i in range(n)]
    np.testing.assert_allclose(learn.recorder.lrs, expected_lr, rtol=1e-12)
    np.testing.assert_allclose(learn.recorder.moms, expected_mom, rtol=1e-12)
    np.testing.assert_allclose([lr for lr, _ in seen], expected_lr, rtol=1e-12)
    np.testing.assert_allclose([m for _, m in seen], expected_mom, rtol=1e-12)
    # fastai's published landmarks: start values on the first batch, the peak at the end of the
    # warm-up, and the schedule's end values once the last batch has stepped.
    assert learn.recorder.lrs[0] == pytest.approx(max_lr / 25)
    assert learn.recorder.moms[0] == pytest.approx(0.95)
    assert learn.recorder.lrs[warmup] == pytest.approx(max_lr)
    assert learn.recorder.moms[warmup] == pytest.approx(0.85)
    assert learn.opt.lr == pytest.approx(max_lr / (25 * 1e4))
    assert learn.opt.mom == pytest.approx(0.95)
    # Both param groups of the layer group (weights; batchnorm and biases) got the same values.
    assert learn.opt.param_groups[1]["lr"] == learn.opt.param_groups[0]["lr"]


def test_one_cycle_per_layer_group_lrs_from_a_slice():
    model = tiny_model()
    learn = make_learner(model=model)
    learn.split([model[3]])
    assert len(learn.layer_groups) == 2
    assert learn.lr_range(slice(1e-3, 1e-1)) == pytest.approx([1e-3, 1e-1])
    assert learn.lr_range(slice(1e-2)) == pytest.approx([1e-3, 1e-2])
    learn.fit_one_cycle(1, slice(1e-3, 1e-1))
    assert learn.recorder.lrs[0] == pytest.approx([1e-3 / 25, 1e-1 / 25])
    groups = learn.opt.param_groups
    assert groups[0]["lr"] == pytest.approx(1e-3 / 25e4) and groups[2]["lr"] == pytest.approx(0.1 / 25e4)


# ---- lr finder ---------------------------------------------------------------------------------------
def test_lr_find_stops_on_divergence_and_restores_weights_and_optimizer():
    learn = make_learner()
    learn.fit(1, 1e-3)  # so the optimizer has state to restore
    before = weights(learn.model)
    opt_before = {id(p): to_numpy(s["exp_avg"]).copy() for p, s in learn.opt.opt.state.items()}
    start, end, num_it = 1e-5, 1e5, 300
    learn.lr_find(start, end, num_it)
    rec = learn.recorder
    assert len(rec.lrs) < num_it, "a learning rate of 1e5 must make the loss diverge"
    expected = [start * (end / start) ** (i / num_it) for i in range(len(rec.lrs))]
    np.testing.assert_allclose(rec.lrs, expected, rtol=1e-12)
    last = rec.losses[-1]
    assert math.isnan(last) or last > 4 * min(rec.losses[:-1])
    assert all(loss <= 4 * min(rec.losses[:i + 1]) for i, loss in enumerate(rec.losses[:-1]))
    assert all(v is None for v in rec.val_losses), "the lr finder never validates"
    assert_same_weights(weights(learn.model), before)
    for p, s in learn.opt.opt.state.items():
        np.testing.assert_array_equal(to_numpy(s["exp_avg"]), opt_before[id(p)])


def test_lr_find_without_divergence_runs_num_it_batches():
    learn = make_learner()
    before = weights(learn.model)
    learn.lr_find(1e-6, 1e-4, num_it=11)  # 8 batches an epoch: two epochs, cut at 11
    assert len(learn.recorder.lrs) == 11
    assert_same_weights(weights(learn.model), before)


def test_lr_find_rejects_bad_ranges():
    learn = make_learner()
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        learn.lr_find(1.0, 1e-3)


# ---- recorder --------------------------------------------------------------------------------------
def test_recorder_smooths_the_loss_and_prints_the_epoch_table(capsys):
    learn = make_learner(silent=False)
    raw = []

    class RawLoss(Callback):
        def after_loss(self):
            if self.learn.training:
                raw.append(self.learn.loss.item())

    learn.fit(2, 1e-2, callbacks=[RawLoss()])
    avg, expected = 0.0, []
    for n, loss in enumerate(raw, 1):
        avg = 0.98 * avg + 0.02 * loss
        expected.append(avg / (1 - 0.98 ** n))
    np.testing.assert_allclose(learn.recorder.losses, expected, rtol=1e-12)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    row = lines[-1].split()
    assert row[0] == "1" and row[1] == f"{expected[-1]:.6f}"
    assert row[2] == f"{learn.recorder.val_losses[-1]:.6f}"
    assert row[3] == f"{learn.recorder.metrics[-1][0]:.6f}"
    assert len(row[1].split(".")[1]) == 6


def test_valid_loss_and_metrics_are_batch_size_weighted_means():
    learn = make_learner()  # 10 validation items in batches of 4, 4, 2
    learn.fit(1, 1e-2)
    with minitorch.no_grad():
        learn.model.eval()
        xs = [x for x, _ in learn.data.valid_dl]
        ys = [y for _, y in learn.data.valid_dl]
        out = learn.model(minitorch.cat(xs, 0))
        y = minitorch.cat(ys, 0)
        whole_loss = F.cross_entropy(out, y).item()
        whole_acc = accuracy(out, y).item()
    assert [len(y) for y in ys] == [4, 4, 2]
    assert learn.recorder.val_losses[-1] == pytest.approx(whole_loss, rel=1e-6)
    assert learn.recorder.metrics[-1][0] == pytest.approx(whole_acc, rel=1e-6)
    loss, acc = learn.validate()
    assert loss == pytest.approx(whole_loss, rel=1e-6) and acc == pytest.approx(whole_acc, rel=1e-6)


def test_recorder_plots_are_written_as_png(tmp_path):
    learn = make_learner()
    learn.lr_find(1e-5, 1e-1, num_it=20)
    learn.recorder.plot(skip_start=2, skip_end=2, path=tmp_path / "lr.png")
    learn.fit_one_cycle(1, 1e-2)
    learn.recorder.plot_losses(path=tmp_path / "losses.png")
    learn.recorder.plot_lr(show_moms=True, path=tmp_path / "lr_moms.png")
    learn.recorder.plot_metrics(path=tmp_path / "metrics.png")
    learn.show_results(rows=2, path=tmp_path / "results.png")
    for name in ("lr", "losses", "lr_moms", "metrics", "results"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    short = learn.recorder.plot(skip_start=10, skip_end=5)  # only 8 batches recorded: all drawn
    assert len(short.axes[0].lines[0].get_xdata()) == 8
    assert short.axes[0].get_title() == "all 8 batches (no more than skip_start + skip_end = 15)"
    fresh = make_learner()
    with pytest.raises(ValueError, match="no batches were recorded"):
        fresh.recorder.plot()


# ---- true weight decay -----------------------------------------------------------------------------
def test_true_weight_decay_step_against_a_hand_computation():
    learn = make_learner(opt_func=SGD, wd=0.1)
    lr = 0.5
    learn.create_opt(lr)
    xb, yb = next(iter(learn.data.train_dl))
    before = {name: to_numpy(p).copy() for name, p in learn.model.named_parameters()}
    F.cross_entropy(learn.model(xb), yb).backward()
    grads = {name: to_numpy(p.grad).copy() for name, p in learn.model.named_parameters()}
    learn.opt.step()
    for name, p in learn.model.named_parameters():  # batchnorm and biases too (bn_wd=True)
        expected = before[name] - lr * 0.1 * before[name] - lr * grads[name]
        np.testing.assert_allclose(to_numpy(p), expected, rtol=1e-6, atol=1e-7, err_msg=name)
    for group in learn.opt.param_groups:
        assert group["weight_decay"] == 0.0, "the optimizer must not decay a second time"


def test_true_weight_decay_with_adam_matches_torch_adamw():
    # float64: Adam divides by the root of tiny second moments, which amplifies float32 rounding.
    learn = make_learner(model=tiny_model().double(), wd=0.05)  # Adam, betas (0.9, 0.99)
    learn.create_opt(1e-2)
    tmodel = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU(),
                                 torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 4)).double()
    tmodel.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in learn.model.state_dict().items()})
    topt = torch.optim.AdamW(tmodel.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.05)
    for xb, yb in list(learn.data.train_dl)[:3]:
        xb = xb.double()
        learn.opt.zero_grad()
        F.cross_entropy(learn.model(xb), yb).backward()
        learn.opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.tensor(xb.numpy())),
                                          torch.tensor(yb.numpy())).backward()
        topt.step()
    for name, p in learn.model.named_parameters():
        np.testing.assert_allclose(to_numpy(p), tmodel.state_dict()[name].numpy(), rtol=1e-7,
                                   atol=1e-9, err_msg=name)


def test_bn_wd_false_leaves_batchnorm_and_biases_undecayed():
    learn = make_learner(opt_func=SGD, wd=0.1, bn_wd=False)
    learn.create_opt(0.5)
    before = {name: to_numpy(p).copy() for name, p in learn.model.named_parameters()}
    learn.model.zero_grad()
    learn.opt.step()  # no gradients: only weight decay can move anything
    for name, p in learn.model.named_parameters():
        if name.endswith("bias") or name.startswith("3."):
            np.testing.assert_array_equal(to_numpy(p), before[name], err_msg=name)
        else:
            np.testing.assert_allclose(to_numpy(p), 0.95 * before[name], rtol=1e-6, err_msg=name)


# ---- callbacks and control flow ------------------------------------------------------------------------
class EventLog(Callback):
    EVENTS = ["begin_fit", "begin_epoch", "begin_batch", "after_pred", "after_loss",
              "after_backward", "after_step", "after_cancel_batch", "after_batch",
              "after_cancel_epoch", "begin_validate", "after_validate", "after_epoch",
              "after_cancel_fit", "after_fit"]

    def __init__(self, log, tag="", order=0):
        self.log, self.tag, self.order = log, tag, order
        for event in self.EVENTS:
            setattr(self, event, partial(self.log.append, tag + event))


def test_callback_events_come_in_order():
    data = quadrant_data(n_train=16, n_valid=4, bs=8, val_bs=4)  # 2 training batches, 1 valid
    log = []
    learn = make_learner(data)
    learn.fit(1, 1e-3, callbacks=[EventLog(log)])
    train_batch = ["begin_batch", "after_pred", "after_loss", "after_backward", "after_step",
                   "after_batch"]
    valid_batch = ["begin_batch", "after_pred", "after_loss", "after_batch"]
    assert log == (["begin_fit", "begin_epoch"] + train_batch * 2 + ["begin_validate"] +
                   valid_batch + ["after_validate", "after_epoch", "after_fit"])


def test_callbacks_run_by_their_order():
    log = []
    learn = make_learner(quadrant_data(n_train=8, n_valid=4))
    learn.fit(1, 1e-3, callbacks=[EventLog(log, "late:", order=5), EventLog(log, "early:", -1)])
    assert log[:2] == ["early:begin_fit", "late:begin_fit"]


def test_cancel_batch_skips_the_step_but_not_after_batch():
    log = []

    class SkipStep(Callback):
        def after_loss(self):
            if self.learn.training:
                raise CancelBatchException()

    learn = make_learner(quadrant_data(n_train=16, n_valid=4))
    before = weights(learn.model)
    learn.fit(1, 1e-1, callbacks=[SkipStep(), EventLog(log)])
    assert log.count("after_cancel_batch") == 2 and "after_step" not in log
    assert log.count("after_batch") == 3
    state = learn.model.state_dict()
    for k, v in before.items():  # running statistics moved, no parameter did
        if "running" not in k and "num_batches" not in k:
            np.testing.assert_array_equal(to_numpy(state[k]), v, err_msg=k)


def test_cancel_epoch_ends_the_pass_and_validation_still_runs():
    log = []

    class OneBatchEpochs(Callback):
        def begin_batch(self):
            if self.learn.training and self.learn.iter == 1:
                raise CancelEpochException()

    learn = make_learner()
    learn.fit(2, 1e-3, callbacks=[OneBatchEpochs(), EventLog(log)])
    assert log.count("after_step") == 2 and log.count("after_cancel_epoch") == 2
    assert learn.recorder.nb_batches == [1, 1]
    assert all(v is not None for v in learn.recorder.val_losses)


def test_cancel_fit_stops_training_and_after_fit_runs():
    log = []

    class StopAfterThree(Callback):
        def after_step(self):
            if len(self.learn.recorder.losses) == 3:
                raise CancelFitException()

    learn = make_learner()
    learn.fit(5, 1e-3, callbacks=[StopAfterThree(), EventLog(log, order=-1)])
    assert log.count("after_step") == 3
    assert log[-2:] == ["after_cancel_fit", "after_fit"]
    assert "after_epoch" not in log


def test_a_nan_loss_stops_the_fit_with_a_message(capsys):
    calls = []

    def loss_that_breaks(pred, target):
        loss = F.cross_entropy(pred, target)
        calls.append(1)
        return loss * float("nan") if len(calls) == 5 else loss

    learn = Learner(quadrant_data(), tiny_model(), loss_func=loss_that_breaks, silent=True)
    snapshots = []

    class Snapshot(Callback):
        def begin_batch(self):
            if self.learn.training:
                snapshots.append(weights(self.learn.model))

    learn.fit(3, 1e-2, callbacks=[Snapshot()])
    out = capsys.readouterr().out
    assert "the training loss is nan" in out and "Epoch 0, batch 4" in out
    assert learn.stopped_on_nan
    assert len(learn.recorder.losses) == 5 and len(snapshots) == 5
    after = weights(learn.model)
    for k, v in snapshots[-1].items():  # the NaN batch changed no parameter
        if "running" not in k and "num_batches" not in k:
            np.testing.assert_array_equal(after[k], v, err_msg=k)
    assert all(np.isfinite(v).all() for v in after.values())


# ---- saving, predicting ----------------------------------------------------------------------------------
def test_save_load_round_trip_restores_model_and_optimizer(tmp_path):
    learn = make_learner(path=tmp_path)
    learn.fit(1, 1e-2)
    file = learn.save("stage-1")
    assert file == tmp_path / "models" / "stage-1.npz" and file.exists()
    saved = weights(learn.model)
    saved_state = {i: to_numpy(s["exp_avg_sq"]).copy()
                   for i, s in enumerate(learn.opt.opt.state.values())}
    learn.fit(1, 1e-1)  # move everything
    learn.load("stage-1")
    assert_same_weights(weights(learn.model), saved)
    for i, s in enumerate(learn.opt.opt.state.values()):
        np.testing.assert_array_equal(to_numpy(s["exp_avg_sq"]), saved_state[i])
    fresh = make_learner(path=tmp_path)
    fresh.load("stage-1")
    assert_same_weights(weights(fresh.model), saved)
    with pytest.raises(FileNotFoundError, match="stage-2"):
        fresh.load("stage-2")


def test_get_preds_predict_and_validate_agree():
    learn = make_learner()
    learn.fit_one_cycle(3, 0.05)
    preds, targets = learn.get_preds(DatasetType.Valid)
    assert tuple(preds.shape) == (10, 4) and tuple(targets.shape) == (10,)
    np.testing.assert_allclose(preds.numpy().sum(1), 1, rtol=1e-5)  # softmax applied
    assert accuracy(preds, targets).item() == pytest.approx(learn.validate()[1])
    label, index, probs = learn.predict(learn.data.valid_ds[0][0])  # fastai's (Category, index, probs)
    np.testing.assert_allclose(probs.numpy(), preds.numpy()[0], rtol=1e-5)
    assert int(index) == int(preds.numpy()[0].argmax())
    assert str(label) == learn.data.classes[int(index)] and int(label) == int(index)


# ---- freezing ----------------------------------------------------------------------------------------
def test_freeze_trains_only_the_last_group_and_batchnorm():
    model = tiny_model()
    learn = make_learner(model=model)
    with pytest.raises(ValueError, match="one layer group"):
        learn.freeze()
    learn.split([model[4]])  # body: Flatten, Linear, ReLU, BatchNorm1d; head: Linear
    learn.freeze()
    assert not model[1].weight.requires_grad and model[3].weight.requires_grad
    before = weights(model)
    learn.fit(1, 1e-2)
    after = weights(model)
    np.testing.assert_array_equal(after["1.weight"], before["1.weight"])  # frozen, not decayed
    assert not np.array_equal(after["3.weight"], before["3.weight"])     # train_bn
    assert not np.array_equal(after["4.weight"], before["4.weight"])
    assert "Total non-trainable params: 136" in learn.summary()
    learn.unfreeze()
    assert all(p.requires_grad for p in model.parameters())


# ---- metrics ---------------------------------------------------------------------------------------------
def test_metrics_against_numpy():
    rng = np.random.default_rng(3)
    scores, target = rng.standard_normal((50, 5)).astype(np.float32), rng.integers(0, 5, 50)
    acc = (scores.argmax(1) == target).mean()
    pred, targ = minitorch.tensor(scores), minitorch.tensor(target)
    assert accuracy(pred, targ).item() == pytest.approx(acc)
    assert error_rate(pred, targ).item() == pytest.approx(1 - acc)
    multi = rng.integers(0, 2, (50, 5)).astype(np.float32)
    expected = ((1 / (1 + np.exp(-scores)) > 0.3) == (multi > 0.5)).mean()
    assert accuracy_thresh(pred, minitorch.tensor(multi), thresh=0.3).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="50 predictions for 3 targets"):
        accuracy(pred, targ[:3])


# ---- summary: the lesson's MNIST models (minitorch/vision/models/mnist.py) ----------------------------
# The DenseNet variant's count, by hand: a block conv_layer(ni, nf) + res_block(nf) has
# 9·ni·nf + 18·nf² + 6·nf parameters (no conv bias; batchnorm weight and bias), concatenating or
# not: 1,272 + 7,008 + 27,840 + 13,920, then conv_layer(32, 10) 2,900 → 52,940.
@pytest.mark.parametrize("build,total,rows", [(basic_cnn, 12126, 15), (refactored_cnn, 12044, 16),
                                              (resnet_ish, 41132, 44), (densenet_ish, 52940, 44)])
def test_summary_matches_the_lesson(build, total, rows):
    data = quadrant_data(n_train=8, n_valid=4, size=28, bs=8)
    learn = make_learner(data, build())
    text = learn.summary()
    assert f"Total params: {total:,}" in text
    assert f"Total trainable params: {total:,}" in text
    assert "Total non-trainable params: 0" in text
    assert sum(p.numel() for p in learn.model.parameters()) == total
    table = [line for line in text.splitlines() if "[" in line]
    assert len(table) == rows
    assert table[0].split()[:5] == ["Conv2d", "[8,", "8,", "14,", "14]"]
    assert table[-1].split()[:3] == ["Flatten", "[8,", "10]"]
    assert learn.model.training, "summary must give the model back in training mode"


def test_learner_rejects_bad_arguments():
    with pytest.raises(ValueError, match="loss_func"):
        Learner(quadrant_data(), tiny_model())
    with pytest.raises(ValueError, match="epochs"):
        make_learner().fit(0, 1e-3)


@pytest.mark.parametrize("loss_func,activation", [
    (F.cross_entropy, lambda x: torch.softmax(x, -1)),
    (nn.CrossEntropyLoss(), lambda x: torch.softmax(x, -1)),
    (nn.BCEWithLogitsLoss(), torch.sigmoid),
    (nn.MSELoss(), lambda x: x),
])
def test_predictions_go_through_the_loss_functions_activation(loss_func, activation):
    learn = Learner(quadrant_data(), tiny_model(), loss_func=loss_func, silent=True)
    xb, _ = next(iter(learn.data.valid_dl))
    with minitorch.no_grad():
        learn.model.eval()
        raw = torch.tensor(learn.model(xb).numpy())
    learn.model.train()
    preds = learn.pred_batch(batch=(xb,))
    np.testing.assert_allclose(preds.numpy(), activation(raw).numpy(), rtol=1e-5, atol=1e-7)


def test_get_preds_on_an_unlabelled_test_set():
    data = quadrant_data()
    rng = np.random.default_rng(5)
    test_images = ImageList.from_arrays(rng.integers(0, 255, (6, 1, 4, 4)).astype(np.uint8))
    data = DataBunch.create(data.train_ds, data.valid_ds,
                            LabelList(test_images, EmptyLabelList(len(test_images))), bs=8, val_bs=4)
    learn = make_learner(data)
    preds, _ = learn.get_preds(DatasetType.Test)
    assert tuple(preds.shape) == (6, 4)
    with minitorch.no_grad():
        learn.model.eval()
        expected = learn.model(minitorch.cat([x for x, _ in data.test_dl], 0)).softmax(-1)
    np.testing.assert_allclose(preds.numpy(), expected.numpy(), rtol=1e-6)
