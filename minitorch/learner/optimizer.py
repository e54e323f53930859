"""``OptimWrapper``: fastai v1's view of an optimizer, with true weight decay.
Read after ``optim/optimizer.py`` and before ``learner.py``.

A PyTorch-style optimizer keeps its hyper-parameters in ``param_groups`` under names that
differ by rule: SGD has ``momentum``, Adam ``betas``.  Schedules want one vocabulary, so this
wrapper gives every optimizer the same four knobs, each a number or one number per *layer
group*:

* ``lr`` — the learning rate;
* ``mom`` — momentum: SGD's (and RMSprop's) ``momentum``, Adam's ``beta1``;
* ``wd`` — weight decay;
* and ``step()``, which applies weight decay the fastai way before the optimizer's own step.

**True weight decay.**  L2 regularisation adds ``wd · p`` to the gradient; inside Adam that term
is then divided by the running RMS of the gradient, so weights with large gradients are hardly
decayed at all.  Decoupled ("true") weight decay shrinks every weight directly,
``p ← p − lr · wd · p``, before the step, and gives the optimizer ``weight_decay = 0``
(Loshchilov & Hutter; fastai's default, ``true_wd=True``).  With ``bn_wd=False`` the
batchnorm and bias parameters are left undecayed.

Each layer group becomes *two* optimizer param groups, ``[weights, batchnorm and bias
parameters]``, so that ``bn_wd`` can treat them differently; the lr and momentum of both are
always the same.

**Made outside the Learner.**  ``OptimWrapper.create(opt_func, lr, layer_groups, wd, true_wd,
bn_wd)`` builds the whole thing from a recipe (``opt_func``, e.g. ``partial(Adam, betas=(0.9,
0.99))``) and layer groups; the Learner's ``create_opt`` calls it.  ``opt.new(layer_groups)``
makes another optimizer with the same recipe and the same current settings (lr, momentum, wd)
for other parameters: a GAN trainer holds one for the generator and one for the critic and
swaps ``learn.opt`` between them.
"""
import math
import numbers

from minitorch import nn
from minitorch.autograd import no_grad
from minitorch.nn.hooks import flatten_model, layer_parameters
from minitorch.optim.optimizer import check_grads


def is_positive_number(value):
    """Whether ``value`` is a finite real number > 0 (not a bool): a divisor, a clip, a slice's
    ends."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def check_lr(lr, caller, name="the learning rate"):
    """``lr`` — a number, or a list of one per layer group — when every value is a finite
    number ≥ 0; else a ValueError naming ``caller``.  Every fit, schedule and ``opt.lr = ...``
    goes through it: a NaN or infinite rate turns every weight into NaN at the first step, and
    a negative one climbs the loss instead of descending it (PyTorch's optimizers refuse a
    negative rate when they are made, and so did the first fit; the later ones did not)."""
    values = lr if isinstance(lr, (list, tuple)) else [lr]
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                math.isfinite(value) and value >= 0):
            raise ValueError(f"{caller}: {name} must be a finite number ≥ 0 (or one per layer "
                             f"group), got {lr!r}")
    return lr


def norm_layer_types():
    """The normalisation layers: they keep training when their layer group is frozen
    (``train_bn``), and their parameters are not weight-decayed with ``bn_wd=False``."""
    return tuple(getattr(nn, name) for name in
                 ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
                  "InstanceNorm1d", "InstanceNorm2d") if hasattr(nn, name))


def split_no_wd_params(layer_groups):
    """Two optimizer param groups per layer group: weights, then norm-layer and bias parameters.

    A layer group is a list of layers, or a module (its leaf layers are used).  Frozen
    parameters are included (so group indices stay fixed) but never get a gradient, so they are
    never stepped or decayed.  A parameter shared by two layers (tied weights) is listed once."""
    norm_types = norm_layer_types()
    seen, groups = set(), []
    for layers in layer_groups:
        if not isinstance(layers, (list, tuple)):
            layers = flatten_model(layers)
        weights, norms_and_biases = [], []
        for layer in layers:
            for name, p in layer_parameters(layer):
                if id(p) in seen:
                    continue  # tied weights: one parameter, stepped once
                seen.add(id(p))
                if isinstance(layer, norm_types) or name == "bias":
                    norms_and_biases.append(p)
                else:
                    weights.append(p)
        groups += [{"params": weights}, {"params": norms_and_biases}]
    return groups


class OptimWrapper:
    """Wraps ``opt`` (whose param groups come in pairs, see the module docstring).

    ``opt_func`` is the recipe ``new`` makes another optimizer with; ``create`` sets it, and
    wrapping an optimizer directly takes its class."""

    def __init__(self, opt, wd=0.0, true_wd=True, bn_wd=True, opt_func=None):
        if len(opt.param_groups) % 2:
            raise ValueError("OptimWrapper: the optimizer's param groups must come in pairs "
                             f"(weights, batchnorm/bias) per layer group, got "
                             f"{len(opt.param_groups)} groups")
        self.opt, self.true_wd, self.bn_wd = opt, true_wd, bn_wd
        self.opt_func = type(opt) if opt_func is None else opt_func
        self.n_groups = len(opt.param_groups) // 2
        self.wd = wd

    @classmethod
    def create(cls, opt_func, lr, layer_groups, wd=0.0, true_wd=True, bn_wd=True):
        """An optimizer ``opt_func(param_groups, lr=...)`` over ``layer_groups`` (lists of
        layers, or modules), wrapped: ``lr`` and ``wd`` are numbers or one per layer group."""
        layer_groups = list(layer_groups)
        if not layer_groups:
            raise ValueError("OptimWrapper.create: no layer groups given")
        first_lr = lr[0] if isinstance(lr, (list, tuple)) else lr
        opt = opt_func(split_no_wd_params(layer_groups), lr=float(first_lr))
        wrapper = cls(opt, wd=wd, true_wd=true_wd, bn_wd=bn_wd, opt_func=opt_func)
        wrapper.lr = lr
        return wrapper

    def new(self, layer_groups):
        """Another optimizer over ``layer_groups``, with this one's recipe and current lr,
        momentum and weight decay (numbers apply to every new group; lists must match)."""
        opt = self.create(self.opt_func, self.lr, layer_groups, wd=self.wd,
                          true_wd=self.true_wd, bn_wd=self.bn_wd)
        if self.mom is not None:
            opt.mom = self.mom
        return opt

    @property
    def param_groups(self):
        return self.opt.param_groups

    def _per_group(self, value, name):
        """One value per layer group from a number or a list."""
        if isinstance(value, (list, tuple)):
            if len(value) != self.n_groups:
                raise ValueError(f"OptimWrapper: {len(value)} values of {name} for "
                                 f"{self.n_groups} layer groups")
            return [float(v) for v in value]
        return [float(value)] * self.n_groups

    def _read(self, values):
        """A number when there is one layer group, else the list."""
        return values[0] if self.n_groups == 1 else values

    # ---- the knobs -------------------------------------------------------------------------------
    @property
    def lr(self):
        return self._read([g["lr"] for g in self.opt.param_groups[::2]])

    @lr.setter
    def lr(self, value):
        check_lr(value, "OptimWrapper.lr")
        for i, v in enumerate(self._per_group(value, "lr")):
            self.opt.param_groups[2 * i]["lr"] = self.opt.param_groups[2 * i + 1]["lr"] = v

    @property
    def mom(self):
        group = self.opt.param_groups
        if "momentum" in group[0]:
            return self._read([g["momentum"] for g in group[::2]])
        if "betas" in group[0]:
            return self._read([g["betas"][0] for g in group[::2]])
        return None  # a rule without momentum

    @mom.setter
    def mom(self, value):
        for i, v in enumerate(self._per_group(value, "mom")):
            for group in self.opt.param_groups[2 * i:2 * i + 2]:
                if "momentum" in group:
                    group["momentum"] = v
                elif "betas" in group:
                    group["betas"] = (v, group["betas"][1])

    @property
    def wd(self):
        return self._read(self._wd)

    @wd.setter
    def wd(self, value):
        self._wd = self._per_group(value, "wd")
        for i, wd in enumerate(self._wd):
            weights, norms_and_biases = self.opt.param_groups[2 * i:2 * i + 2]
            if "weight_decay" not in weights:
                continue
            # With true weight decay the optimizer must not decay a second time.
            weights["weight_decay"] = 0.0 if self.true_wd else wd
            norms_and_biases["weight_decay"] = 0.0 if self.true_wd or not self.bn_wd else wd

    # ---- the step --------------------------------------------------------------------------------
    def step(self):
        """True weight decay (``p ← p − lr·wd·p`` for every trainable parameter), then the
        optimizer's step."""
        check_grads(self.opt)  # a gradient that does not fit: refuse before decaying anything
        if self.true_wd:
            with no_grad():
                for i, wd in enumerate(self._wd):
                    weights, norms_and_biases = self.opt.param_groups[2 * i:2 * i + 2]
                    lr = weights["lr"]
                    if wd == 0 or lr == 0:
                        continue
                    groups = [weights, norms_and_biases] if self.bn_wd else [weights]
                    for group in groups:
                        for p in group["params"]:
                            if p.requires_grad:
                                p.array -= (lr * wd) * p.array
                                p._version_counter[0] += 1
        self.opt.step()

    def zero_grad(self):
        self.opt.zero_grad()

    def state_dict(self):
        return self.opt.state_dict()

    def load_state_dict(self, state_dict):
        self.opt.load_state_dict(state_dict)

    def __repr__(self):
        return f"OptimWrapper over {self.opt!r}\ntrue weight decay: {self.true_wd}"
