"""Adagrad.  Read ``optimizer.py`` and ``sgd.py`` first; ``rmsprop.py`` after it.

Duchi, Hazan & Singer (2011): divide each weight's gradient by the root of the sum of *all* its
past squared gradients.  A weight whose gradients have been large takes small steps, a weight
that rarely gets a gradient (a rare word's embedding) keeps large ones.  The sum only grows, so
every step shrinks over time — which is what RMSprop changed, with a running *mean* instead.
"""
from minitorch.optim.optimizer import Optimizer
from minitorch.tensor import Tensor


class Adagrad(Optimizer):
    r"""``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, *, maximize=False)``, with PyTorch's exact update.

    For each parameter θ with gradient g, learning rate γ, its decay η and weight decay λ, at
    step t = 1, 2, ...::

        g ← -g                         if maximize
        g ← g + λ θ                    if λ ≠ 0
        γₜ ← γ / (1 + (t - 1) η)
        s ← s + g²                     the sum of squares, starts at initial_accumulator_value
        θ ← θ - γₜ g / (√s + ε)

    The first step is γ · g / |g| = ±γ for every weight (with s starting at 0).

    State per parameter: ``step`` (an int) and ``sum`` (s).  As in PyTorch, the state of the
    constructor's parameters is made by the constructor, with *its* initial_accumulator_value
    (a group's own value there is ignored, as PyTorch ignores it); a group added later with
    ``add_param_group`` starts from its own value at its first step.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.start_state(p, initial_accumulator_value)

    def start_state(self, p, initial_value):
        self.state[p]["step"] = 0
        self.state[p]["sum"] = Tensor(p.xp.full_like(p.array, initial_value))

    def check_hyperparameters(self, options, where):
        for option in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            self._require(options, option, 0.0, where)

    def update(self, p, grad, group):
        """Adagrad's rule for one parameter (``maximize`` is applied by ``Optimizer.step``)."""
        xp = p.xp
        if not self.state[p]:                         # a parameter of a group added later
            self.start_state(p, group["initial_accumulator_value"])
        state = self.state[p]
        state["step"] += 1

        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.array  # a new array: p.grad stays as it was
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        squares = state["sum"].array
        squares += grad * grad
        p.array -= lr * grad / (xp.sqrt(squares) + group["eps"])
