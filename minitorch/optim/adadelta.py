"""Adadelta.  Read ``optimizer.py`` and ``rmsprop.py`` first: Adadelta is RMSprop that also
keeps a running mean of its own steps, so that it needs no learning rate to set their size.

Zeiler (2012) noticed that in ``θ ← θ - γ g / RMS[g]`` the units do not match: the step has the
units of g divided by g's, whatever θ's are.  Multiplying by the root of a running mean of past
*steps*, ``RMS[Δθ]``, gives the step θ's units and makes it scale itself: where the updates have
been large, the next one may be large too.  ``lr`` (1.0 by default, as in PyTorch) only scales
the result.  PyTorch's ``mnist/main.py`` example trains with it.
"""
from minitorch.optim.optimizer import Optimizer
from minitorch.tensor import Tensor


class Adadelta(Optimizer):
    r"""``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False)``,
    with PyTorch's exact update.

    For each parameter θ with gradient g, decay ρ, weight decay λ::

        g ← -g                               if maximize
        g ← g + λ θ                          if λ ≠ 0
        v ← ρ v + (1 - ρ) g²                 running mean of squared gradients, starts at 0
        Δ ← √(u + ε) / √(v + ε) · g          the step: RMS of past steps over RMS of gradients
        u ← ρ u + (1 - ρ) Δ²                 running mean of squared steps, starts at 0
        θ ← θ - γ Δ

    At the first step u = 0, so the step is √ε / √(v + ε) · g: tiny, and it grows as u does.

    State per parameter: ``step`` (an int), ``square_avg`` (v), ``acc_delta`` (u).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def check_hyperparameters(self, options, where):
        self._require(options, "lr", 0.0, where)
        self._require(options, "rho", 0.0, where)
        if options["rho"] > 1.0:
            raise ValueError(f"Adadelta: rho must be a number >= 0.0 and <= 1.0, got "
                             f"{options['rho']!r}{where}")
        self._require(options, "eps", 0.0, where)
        self._require(options, "weight_decay", 0.0, where)

    def update(self, p, grad, group):
        """Adadelta's rule for one parameter (``maximize`` is applied by ``Optimizer.step``)."""
        xp = p.xp
        lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["square_avg"] = Tensor(xp.zeros_like(p.array))
            state["acc_delta"] = Tensor(xp.zeros_like(p.array))
        state["step"] += 1

        if weight_decay != 0:
            grad = grad + weight_decay * p.array  # a new array: p.grad stays as it was

        square_avg, acc_delta = state["square_avg"].array, state["acc_delta"].array
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        p.array -= lr * delta
