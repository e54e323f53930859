"""Learning-rate schedulers, as ``torch.optim.lr_scheduler`` has them.  Read after ``optimizer.py``.

A scheduler changes ``group['lr']`` of an optimizer's param groups as training goes on; the
optimizer reads the lr from its groups at every step (``optimizer.py``), so nothing else is
needed.  The loop PyTorch code writes::

    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(epochs):
        train(...)              # optimizer.step() for every batch
        scheduler.step()        # then, once an epoch, the next learning rate

(``OneCycleLR`` is stepped after every batch instead.)  The protocol, shared by all of them in
:class:`LRScheduler`:

* Making a scheduler records each group's starting lr as ``group['initial_lr']`` (its
  ``base_lrs``) and takes step 0 at once: ``last_epoch`` becomes 0 and the groups get the lr of
  step 0.
* ``step()`` adds 1 to ``last_epoch`` and writes :meth:`LRScheduler.get_lr`'s values into the
  groups; ``get_last_lr()`` returns what was written last.
* Most schedulers compute the next lr *from the current one* (``lr × γ`` at a milestone), as
  PyTorch does, so that two schedulers can act on the same optimizer one after the other
  ("chainable"); :class:`LambdaLR` and :class:`OneCycleLR` compute it from the base lr.
* ``state_dict()`` is every attribute but the optimizer (and, for :class:`LambdaLR`, the
  functions, which cannot be saved); ``load_state_dict`` puts them back.  A checkpoint holds the
  optimizer's state dict beside the scheduler's.
"""
import collections
import math
import numbers
import types

from minitorch.optim.optimizer import Optimizer


class LRScheduler:
    """The base class: base lrs, ``last_epoch``, ``step``, ``get_last_lr``, saving.

    A subclass sets its own attributes, calls ``super().__init__(optimizer, last_epoch)``, and
    writes :meth:`get_lr`: the lr of every group at step ``self.last_epoch``.
    """

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:  # a fresh start: the current lrs are where the schedule begins
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:  # resuming: the groups must carry the base lrs of the interrupted run
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming scheduler with last_epoch >= 0 (load the "
                                   "optimizer's state dict before making the scheduler)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True  # step 0, taken now, keeps the lrs that are already there
        self.step()
        self._is_initial = False

    def get_lr(self):
        """The lr of every param group at step ``self.last_epoch`` (a list)."""
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr()")

    def step(self):
        """Move to the next step of the schedule and write its lrs into the param groups."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The lrs the last ``step`` wrote, one per param group."""
        return self._last_lr

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """Every attribute but the optimizer (which is saved on its own)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


_LRScheduler = LRScheduler  # the name older PyTorch code subclasses


def _per_group(name, optimizer, value):
    """``value`` for every param group: a list or tuple with one per group, or one for all."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"expected {len(optimizer.param_groups)} values for {name}, got "
                             f"{len(value)}")
        return list(value)
    return [value] * len(optimizer.param_groups)


class LambdaLR(LRScheduler):
    """lr = base_lr × ``lr_lambda(step)``: any schedule, written as a function of the step
    (one function for every group, or a list with one per group)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.optimizer = optimizer
        self.lr_lambdas = _per_group("lr_lambda", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * lmbda(self.last_epoch)
                for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        """As the base class's, but a function cannot be saved: only the attributes of
        callable *objects* are (None for plain functions and lambdas), as in PyTorch."""
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        saved_lambdas = state.pop("lr_lambdas")
        self.__dict__.update(state)
        for fn, saved in zip(self.lr_lambdas, saved_lambdas):
            if saved is not None:
                fn.__dict__.update(saved)


class StepLR(LRScheduler):
    """lr × ``gamma`` every ``step_size`` steps: base_lr · γ^⌊step / step_size⌋."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not isinstance(step_size, int) or isinstance(step_size, bool) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """lr × ``gamma`` at each of the ``milestones`` (steps, in increasing order; a milestone
    given twice multiplies by γ²)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = collections.Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """lr × ``gamma`` at every step: base_lr · γ^step."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    r"""From base_lr down to ``eta_min`` along half a cosine over ``T_max`` steps::

        lr(t) = η_min + (base_lr − η_min) · (1 + cos(π t / T_max)) / 2

    and back up over the next ``T_max`` (a whole cosine period is 2 T_max).  As in PyTorch, the
    lr is computed from the previous one, by the ratio of two consecutive values of the curve,
    so that it also follows the curve when something else changes the lr in between.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:  # resumed mid-run: the curve itself
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                    for base_lr in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:  # leaving the bottom of the curve (where lr = η_min)
            return [lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for lr, base_lr in zip(self._current_lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]


class OneCycleLR(LRScheduler):
    """Smith's 1cycle policy, stepped after every *batch*: the lr rises from
    ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of ``total_steps``, then
    falls to ``initial_lr / final_div_factor``; the momentum (or Adam's β₁) moves the other way,
    between ``max_momentum`` and ``base_momentum``.  ``three_phase`` comes back down to the
    initial lr symmetrically before the final fall, as in the paper.

    This is PyTorch's scheduler; the fastai Learner's ``fit_one_cycle`` has its own
    (``minitorch/learner/one_cycle.py``), whose phases are cut slightly differently.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        self.total_steps = self._total_steps(total_steps, epochs, steps_per_epoch)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self.anneal_strategy = anneal_strategy
        # Each phase: the step it ends at, and the group entries it goes from and to.
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self.phases = [(rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                            "base_momentum", "max_momentum"),
                           (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                            "max_momentum")]
        else:
            self.phases = [(rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (self.total_steps - 1, "max_lr", "min_lr", "base_momentum",
                            "max_momentum")]

        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with "
                                 "`cycle_momentum` option enabled")
            self.use_beta1 = "betas" in optimizer.defaults
            if last_epoch == -1:
                for group, top, bottom in zip(
                        optimizer.param_groups,
                        _per_group("max_momentum", optimizer, max_momentum),
                        _per_group("base_momentum", optimizer, base_momentum)):
                    self._set_momentum(group, top)
                    group["max_momentum"], group["base_momentum"] = top, bottom
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _total_steps(total_steps, epochs, steps_per_epoch):
        def positive_int(value):
            return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0
        if total_steps is not None:
            if not positive_int(total_steps):
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            return total_steps
        if epochs is None or steps_per_epoch is None:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not positive_int(epochs):
            raise ValueError(f"Expected positive integer epochs, but got {epochs}")
        if not positive_int(steps_per_epoch):
            raise ValueError(f"Expected positive integer steps_per_epoch, but got "
                             f"{steps_per_epoch}")
        return epochs * steps_per_epoch

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        """From ``start`` (pct = 0) to ``end`` (pct = 1): along half a cosine, or a line."""
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"Tried to step {step} times. The specified number of total steps "
                             f"is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            phase_start = 0.0
            for i, (phase_end, lr_from, lr_to, momentum_from, momentum_to) in \
                    enumerate(self.phases):
                if step <= phase_end or i == len(self.phases) - 1:
                    pct = (step - phase_start) / (phase_end - phase_start)
                    lrs.append(self._anneal(group[lr_from], group[lr_to], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[momentum_from],
                                                               group[momentum_to], pct))
                    break
                phase_start = phase_end
        return lrs
