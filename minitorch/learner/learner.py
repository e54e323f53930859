"""``Learner``: data + model + loss + optimizer, and the training loop.  Read ``callbacks.py`` and
``optimizer.py`` first.

The loop itself is short — for each epoch, for each batch: predict, loss, backward, step — and
everything else (recording, printing, schedules, the lr finder, stopping on NaN) is a callback
called at the events ``callbacks.py`` lists.  The vocabulary is fastai v1's::

    learn = Learner(data, model, loss_func=F.cross_entropy, metrics=accuracy)
    learn.summary()                 # layers, output shapes, parameter counts
    learn.lr_find(); learn.recorder.plot()
    learn.fit_one_cycle(3, max_lr=0.1)
    learn.recorder.plot_losses()
    learn.save('stage-1'); learn.load('stage-1')
    preds, targets = learn.get_preds()
    category, index, probs = learn.predict(image)   # one item, as fastai's triple

``data`` is a DataBunch (``minitorch/data``): ``data.train_dl`` and ``data.valid_dl`` give
``(xb, yb)`` batches on ``data.device``; ``data.test_dl`` (optional) is only predicted.

Callbacks join a Learner two ways, as in fastai: ``callbacks=[...]`` (objects, kept for every
fit) and ``callback_fns=[...]`` (functions of the learner that make a callback, such as a class
or ``partial(GANDiscriminativeLR, mult_lr=5.)``: called afresh at the start of every fit, so
each fit starts with a clean one; ``learn.callback_fns.append(...)`` adds one later).

Layer groups.  The model's leaf layers are split into *layer groups* (one group unless
``split`` says otherwise).  Each group can get its own learning rate (``lr=slice(1e-5, 1e-3)``
spreads them geometrically: small for the pretrained body, large for the new head), and
``freeze_to(n)`` stops training the first ``n`` groups — except their batchnorm layers, whose
statistics must adapt to the new data (``train_bn=True``, as in fastai).
"""
import numbers
from functools import partial
from pathlib import Path

from minitorch import backend, serialization
from minitorch.autograd import no_grad
from minitorch.data import DatasetType
from minitorch.learner import lr_finder, one_cycle
from minitorch.learner.activations import loss_func2activ
from minitorch.learner.callbacks import (
    CancelBatchException, CancelEpochException, CancelFitException, ProgressCallback, Recorder,
    SmoothenValue, WeightedMeans, metric_name, metric_value)
from minitorch.learner.nan_stop import TerminateOnNaN, read_batch
from minitorch.learner.optimizer import (
    OptimWrapper, check_lr, is_positive_number, norm_layer_types)
from minitorch.learner.summary import flatten_model, layer_parameters, model_summary
from minitorch.nn import eval_mode
from minitorch.ops import cat
from minitorch.optim import Adam
from minitorch.tensor import tensor


class Learner:
    """Trains ``model`` on ``data`` (fastai v1's ``Learner``).

    ``opt_func`` builds the optimizer from param groups and ``lr`` (Adam with betas (0.9, 0.99)
    by default, as fastai); ``wd`` is the weight decay, applied as true weight decay unless
    ``true_wd=False``; ``bn_wd`` decays batchnorm and bias parameters too.  ``metrics`` are
    functions ``metric(pred, target)`` shown in the epoch table.  ``path / model_dir`` is
    where ``save`` writes (``path`` defaults to the current folder).  ``silent=True`` prints
    nothing during training.  ``callback_fns`` (one or a list) make callbacks at each fit (see
    the module docstring).
    """

    default_lr = 3e-3

    def __init__(self, data, model, loss_func=None, metrics=None,
                 opt_func=partial(Adam, betas=(0.9, 0.99)), wd=1e-2, true_wd=True, bn_wd=True,
                 train_bn=True, path=None, model_dir="models", callbacks=None,
                 layer_groups=None, silent=False, callback_fns=None):
        if loss_func is None:
            loss_func = getattr(data, "loss_func", None)
            if loss_func is None:
                raise ValueError("Learner: give a loss_func (e.g. F.cross_entropy); the data "
                                 "does not name one")
        self.data, self.loss_func, self.opt_func = data, loss_func, opt_func
        self.wd, self.true_wd, self.bn_wd, self.train_bn = wd, true_wd, bn_wd, train_bn
        device = getattr(data, "device", None)
        self.model = model.to(device) if device is not None else model
        if metrics is None:
            metrics = []
        self.metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        # Not the data's folder, as fastai does: a data folder is often read-only or shared.
        self.path = Path(path if path is not None else ".")
        self.model_dir = model_dir
        self.layer_groups = [flatten_model(self.model)] if layer_groups is None else [
            flatten_model(g) if not isinstance(g, (list, tuple)) else list(g)
            for g in layer_groups]
        self.opt = None
        self.recorder = Recorder()
        self.callbacks = [self.recorder, TerminateOnNaN(),
                          ProgressCallback(show_bar=False if silent else None,
                                           print_table=not silent)]
        self.callbacks += list(callbacks or [])
        for cb in self.callbacks:
            cb.learn = self
        if callback_fns is None:
            callback_fns = []
        self.callback_fns = (list(callback_fns) if isinstance(callback_fns, (list, tuple))
                             else [callback_fns])
        for fn in self.callback_fns:
            if not callable(fn):
                raise TypeError(f"Learner: callback_fns must be functions of the learner that "
                                f"make a callback (a class, a partial), got {fn!r}")
        self.extra_callbacks = []
        self.training = False
        self.skip_validate = False
        self.stopped_on_nan = False
        self.smooth_loss = self.last_loss = float("nan")
        self.batch_values = {}

    # ---- the optimizer ---------------------------------------------------------------------------
    def create_opt(self, lr, wd=None):
        """Build the optimizer (``opt_func``) over the layer groups, wrapped with fastai's knobs
        and true weight decay (``OptimWrapper.create``)."""
        wd = self.wd if wd is None else wd
        self.opt = OptimWrapper.create(self.opt_func, lr, self.layer_groups, wd=wd,
                                       true_wd=self.true_wd, bn_wd=self.bn_wd)

    def lr_range(self, lr):
        """A learning rate per layer group from ``lr``: a number stays as it is; ``slice(a, b)``
        spreads geometrically from a (first group) to b (last); ``slice(b)`` gives the last group
        b and the others b/10.  One layer group gives a number."""
        if not isinstance(lr, slice):
            return lr
        if lr.step is not None or not is_positive_number(lr.stop) or not (
                lr.start is None or is_positive_number(lr.start)):
            raise ValueError(f"learning rates as a slice: slice(stop) or slice(start, stop) with "
                             f"finite positive numbers (1e-3, or 1e-5 and 1e-3), got {lr!r}")
        n = len(self.layer_groups)
        if lr.start:
            step = (lr.stop / lr.start) ** (1 / (n - 1)) if n > 1 else 1
            values = [lr.start * step ** i for i in range(n)] if n > 1 else [lr.stop]
        else:
            values = [lr.stop / 10] * (n - 1) + [lr.stop]
        return values[0] if n == 1 else values

    # ---- the training loop -----------------------------------------------------------------------
    def __call__(self, event):
        """Run ``event`` (``'begin_fit'``, ...) on every callback that defines it, in order."""
        for cb in sorted(self.callbacks + self.extra_callbacks, key=lambda c: c.order):
            method = getattr(cb, event, None)
            if method is not None:
                method()

    def fit(self, epochs, lr=None, wd=None, callbacks=None):
        """Train for ``epochs`` epochs at learning rate ``lr`` (a number, one per layer group, or a
        slice), validating after each; ``callbacks`` join the Learner's for this fit only, with
        one callback made by each of ``callback_fns``."""
        if not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
        self.require_training_batches("fit")
        lr = check_lr(self.lr_range(self.default_lr if lr is None else lr), "fit")
        wd = check_lr(self.wd if wd is None else wd, "fit", "the weight decay")
        if self.opt is None:
            self.create_opt(lr, wd)
        else:
            self.opt.lr, self.opt.wd = lr, wd
        self.extra_callbacks = [fn(self) for fn in self.callback_fns] + list(callbacks or [])
        for cb in self.extra_callbacks:
            cb.learn = self
        self.n_epochs, self.epoch, self.iter = epochs, 0, 0
        self.smoothener = SmoothenValue(0.98)
        self.smooth_loss = float("nan")
        self.stopped_on_nan = False
        try:
            try:
                self("begin_fit")
                for self.epoch in range(epochs):
                    self._one_epoch()
            except CancelFitException:
                self("after_cancel_fit")
        except BaseException as error:  # Ctrl-C too: after_fit runs, then the error goes on
            self._end_fit(error)
            raise
        self._end_fit()

    def _end_fit(self, error=None):
        """``after_fit`` on every callback, even when one of them fails (each must cope with a
        fit that stopped anywhere, before its own ``begin_fit`` too).  When the fit is ending
        because of ``error``, that error is what reaches the caller; a callback's failure to
        clean up is added to it as a note, never put in its place."""
        failures = []
        for cb in sorted(self.callbacks + self.extra_callbacks, key=lambda c: c.order):
            try:
                if hasattr(cb, "after_fit"):
                    cb.after_fit()
            except Exception as failure:
                failures.append((cb, failure))
        self.training = False
        self.model.zero_grad()
        self.extra_callbacks = []
        if failures and error is None:
            raise failures[0][1]
        for cb, failure in failures:
            error.add_note(f"(while the fit stopped, {cb!r}.after_fit also failed: "
                           f"{type(failure).__name__}: {failure})")

    def require_training_batches(self, caller):
        """Raise before anything changes when the training loader yields no batch at all (a
        batch size above the number of items, with the last partial batch dropped): a fit
        would silently train nothing."""
        dl = self.data.train_dl
        if hasattr(dl, "__len__") and len(dl) == 0:
            items = len(dl.dataset) if hasattr(dl, "dataset") else "?"
            raise ValueError(
                f"{caller}: the training loader gives no batches ({items} items, batch_size="
                f"{getattr(dl, 'batch_size', '?')}, drop_last={getattr(dl, 'drop_last', '?')}); "
                "use a smaller batch size or more training data")

    def _one_epoch(self):
        self.model.train()
        self.training, self.validated = True, False
        self.dl = self.data.train_dl
        try:
            self("begin_epoch")
            self._all_batches()
        except CancelEpochException:
            self("after_cancel_epoch")
        valid_dl = getattr(self.data, "valid_dl", None)
        # An empty validation set (split_none): every epoch trains, none validates (fastai).
        if not self.skip_validate and valid_dl is not None and (
                not hasattr(valid_dl, "__len__") or len(valid_dl) > 0):
            self.model.eval()
            self.training = False
            self.dl = valid_dl
            with no_grad():
                try:
                    self("begin_validate")
                    self._all_batches()
                except CancelEpochException:
                    self("after_cancel_epoch")
            self.validated = True
            self("after_validate")
        self("after_epoch")

    def _all_batches(self):
        for self.iter, (self.xb, self.yb) in enumerate(self.dl):
            self._one_batch()

    def _one_batch(self):
        try:
            self.pred = self.loss = None
            self("begin_batch")
            self.pred = self.model(self.xb)
            self("after_pred")
            self.loss = self.loss_func(self.pred, self.yb)
            self("after_loss")
            if self.training:
                self.opt.zero_grad()
                self.loss.backward()
                read_batch(self)  # the batch's one read from the device (nan_stop.py)
                self("after_backward")
                self.opt.step()
                self("after_step")
        except CancelBatchException:
            self("after_cancel_batch")
        self("after_batch")

    def fit_one_cycle(self, cyc_len, max_lr=None, moms=(0.95, 0.85), div_factor=25.,
                      pct_start=0.3, final_div=None, wd=None, callbacks=None):
        """One-cycle training (see ``one_cycle.py``)."""
        one_cycle.fit_one_cycle(self, cyc_len, max_lr, moms=moms, div_factor=div_factor,
                                pct_start=pct_start, final_div=final_div, wd=wd,
                                callbacks=callbacks)

    def lr_find(self, start_lr=1e-7, end_lr=10, num_it=100, stop_div=True, wd=None):
        """The learning-rate finder (see ``lr_finder.py``); then ``learn.recorder.plot()``."""
        lr_finder.lr_find(self, start_lr, end_lr, num_it, stop_div, wd)

    # ---- evaluating ------------------------------------------------------------------------------
    def validate(self, dl=None):
        """``[valid_loss, *metrics]`` over ``dl`` (default the validation set): batch-size-weighted
        means, as the epoch table shows them."""
        dl = self.data.valid_dl if dl is None else dl
        sums = WeightedMeans(["loss"] + [metric_name(m) for m in self.metrics])
        with eval_mode(self.model), no_grad():
            for xb, yb in dl:
                pred = self.model(xb)
                values = [self.loss_func(pred, yb)] + [metric_value(m, m(pred, yb))
                                                       for m in self.metrics]
                sums.add(values, weight=len(yb))  # summed on the device, read once at the end
        return sums.means()

    def _activation(self, activ):
        """What turns the model's output into predictions: ``activ`` if given, else the loss
        function's (``activations.py``: softmax after cross-entropy, sigmoid after binary
        cross-entropy with logits, ...)."""
        return activ if activ is not None else loss_func2activ(self.loss_func)

    def pred_batch(self, ds_type=DatasetType.Valid, batch=None, activ=None, reconstruct=False):
        """Predictions (after the activation) for one batch: ``batch`` if given (``(xb, yb)`` as
        a loader yields it), else the first batch of the ``ds_type`` loader.  With
        ``reconstruct=True``, a list of items instead, one per prediction, as the targets' item
        list makes them (``Image``s, denormalised when the targets were normalised;
        ``Category``s)."""
        xb = batch[0] if batch is not None else next(iter(self.data.dl(ds_type)))[0]
        with eval_mode(self.model), no_grad():
            preds = self._activation(activ)(self.model(xb))
        if not reconstruct:
            return preds
        y = self.data.dl(ds_type).dataset.y
        preds = (self.data.denorm(preds, do_x=True) if getattr(self.data, "norm_y", False)
                 else backend.to_numpy(preds.array))
        return [y.reconstruct(y.analyze_pred(pred)) for pred in preds]

    def get_preds(self, ds_type=DatasetType.Valid, activ=None):
        """``[predictions, targets]`` over a whole data set (default the validation set), as two
        tensors; predictions go through the loss's activation (softmax for cross-entropy).  A
        test set has no labels: its targets are whatever its loader yields in their place."""
        activation = self._activation(activ)
        preds, targets = [], []
        with eval_mode(self.model), no_grad():
            for xb, yb in self.data.dl(ds_type):
                preds.append(activation(self.model(xb)))
                targets.append(yb)
        return [cat(preds, 0), cat(targets, 0)]

    def predict(self, item, activ=None):
        """Predict one item: an item as the inputs' list gives it (``open_image(fn)``, ``il[0]``,
        ``x`` of ``x, y = data.valid_ds[0]``) or its data (a Tensor or an array of pixels in
        [0, 1], token numbers).  It goes through what the validation set's items go through —
        its transforms and size, then the normalisation (``data.one_item``) — and the model.

        Returns fastai's triple ``(item, pred, raw)``: the prediction as an item of the targets'
        kind (a ``Category``, an ``Image``, a ``Text``), the analysed prediction (the class index,
        the image's pixels, token numbers) and the raw output after the activation
        (probabilities; pixels, denormalised when the targets were normalised), on the CPU."""
        xb = self.data.one_item(item)
        raw = self.pred_batch(batch=(xb.to(self._device()),), activ=activ)
        if getattr(self.data, "norm_y", False):  # an image target: back to pixels
            raw = self.data.denorm(raw, do_x=True)
        raw = tensor(backend.to_numpy(raw.array if hasattr(raw, "array") else raw)[0],
                     device="cpu")
        y = self.data.valid_ds.y
        pred = y.analyze_pred(raw)
        return y.reconstruct(pred), pred, raw

    def _device(self):
        first = next(self.model.parameters(), None)
        return first.device if first is not None else backend.default_device()

    def show_results(self, ds_type=DatasetType.Valid, rows=3, figsize=None, path=None, **kwargs):
        """One batch of ``ds_type`` with the model's predictions, drawn by the data's item lists
        (``x.show_xyzs``): for classes a ``rows × rows`` grid titled ``prediction/actual`` (red
        when wrong), for image targets ``rows`` lines of input / prediction / target.  Saved as
        a PNG at ``path`` and shown in a notebook.  ``kwargs`` go to ``show_xyzs``
        (``imgsize=5``: inches per image, ``cmap``)."""
        dl = self.data.dl(ds_type)
        ds = dl.dataset
        xb, yb = next(iter(dl))[:2]
        preds = self.pred_batch(batch=(xb,))
        n = min(rows * rows if getattr(ds.x, "_square_show_res", True) else rows, len(xb))
        x, y, preds = xb[:n], yb[:n], preds[:n]
        if getattr(self.data, "norm_x", False):
            x = self.data.denorm(x)
        if getattr(self.data, "norm_y", False):  # image targets normalised: back to pixels
            y, preds = self.data.denorm(y, do_x=True), self.data.denorm(preds, do_x=True)
        xs = [ds.x.reconstruct(x[i]) for i in range(n)]
        ys = [ds.y.reconstruct(y[i]) for i in range(n)]
        zs = [ds.y.reconstruct(ds.y.analyze_pred(preds[i])) for i in range(n)]
        if figsize is not None or "imgsize" in kwargs:  # imgsize sizes the figure when no figsize
            kwargs["figsize"] = figsize
        return ds.x.show_xyzs(xs, ys, zs, rows=rows, path=path, **kwargs)

    def summary(self):
        """fastai v1's table of leaf layers, output shapes and parameter counts (one batch)."""
        return model_summary(self)

    # ---- freezing --------------------------------------------------------------------------------
    def split(self, split_on):
        """Set the layer groups.  ``split_on`` is a function of the model returning the split
        points, or the split points themselves: modules, each starting a new group (the first
        group starts at the model's first layer)."""
        if callable(split_on) and not hasattr(split_on, "parameters"):
            split_on = split_on(self.model)
        leaves = flatten_model(self.model)
        starts = []
        for module in split_on:
            first = flatten_model(module)[0]
            if not any(first is leaf for leaf in leaves):
                raise ValueError(f"split: {type(module).__name__} is not part of the model")
            starts.append(next(i for i, leaf in enumerate(leaves) if leaf is first))
        bounds = sorted(set([0] + starts + [len(leaves)]))
        self.layer_groups = [leaves[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        self.opt = None  # the param groups changed
        return self

    def freeze_to(self, n):
        """Stop training the layer groups before ``n`` (their norm layers keep training when
        ``train_bn``); train the others.  A fresh optimizer is made at the next fit."""
        norm_types = norm_layer_types()
        frozen = self.layer_groups[:n]
        for layers in frozen:
            for layer in layers:
                if not (self.train_bn and isinstance(layer, norm_types)):
                    for _, p in layer_parameters(layer):
                        p.requires_grad_(False)
        for layers in self.layer_groups[n:]:
            for layer in layers:
                for _, p in layer_parameters(layer):
                    p.requires_grad_(True)
        self.opt = None

    def freeze(self):
        """Train only the last layer group (the head)."""
        if len(self.layer_groups) < 2:
            raise ValueError("freeze: the model has one layer group; split it first "
                             "(learn.split(...)) so there is something to keep training")
        self.freeze_to(-1)

    def unfreeze(self):
        """Train every layer group."""
        self.freeze_to(0)

    # ---- saving ----------------------------------------------------------------------------------
    def _file(self, name):
        return self.path / self.model_dir / f"{name}.npz"

    def save(self, name, with_opt=True):
        """Write the model's weights (and the optimizer's state) to ``path/model_dir/name.npz``;
        returns the file's path."""
        file = self._file(name)
        file.parent.mkdir(parents=True, exist_ok=True)
        state = {"model": self.model.state_dict()}
        if with_opt:
            state.update(self._opt_states())
        serialization.save(state, file)
        return file

    def _opt_states(self):
        """The optimizer states a checkpoint holds: ``{'opt': ...}``, or nothing before the
        first fit (a GANLearner holds one per model)."""
        return {} if self.opt is None else {"opt": self.opt.state_dict()}

    def _load_opt_states(self, state):
        """Load a checkpoint's optimizer state, making the optimizer first if there is none;
        a state that does not fit raises and leaves the optimizer as it was."""
        if "opt" not in state:
            return
        had_opt = self.opt is not None
        if not had_opt:
            self.create_opt(self.default_lr)
        try:
            self.opt.load_state_dict(state["opt"])
        except Exception:
            if not had_opt:
                self.opt = None
            raise

    def load(self, name, with_opt=True, strict=True):
        """Read what ``save(name)`` wrote back into the model (and the optimizer, when it
        exists and the file has its state).

        All or nothing: the model's part is checked first (keys and shapes), then the
        optimizer's state is loaded (it checks everything before it changes anything), and
        only then are the weights copied.  A file that does not fit raises and leaves the
        model, the optimizer and its state as they were.
        """
        file = self._file(name)
        if not file.exists():
            raise FileNotFoundError(f"Learner.load: no file {file} (saved with learn.save"
                                    f"({name!r})?)")
        state = serialization.load(file)
        if not isinstance(state, dict) or "model" not in state:
            raise ValueError(f"Learner.load: {file} holds no 'model' entry (was it written by "
                             "learn.save?)")
        self.model.check_state_dict(state["model"], strict=strict)
        if with_opt:
            self._load_opt_states(state)
        self.model.load_state_dict(state["model"], strict=strict)
        return self

    def __repr__(self):
        return (f"Learner(data={type(self.data).__name__}, model={type(self.model).__name__}, "
                f"loss_func={getattr(self.loss_func, '__name__', self.loss_func)!r}, "
                f"metrics={[getattr(m, '__name__', m) for m in self.metrics]}, wd={self.wd}, "
                f"true_wd={self.true_wd})")
