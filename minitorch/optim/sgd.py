"""Stochastic gradient descent, with momentum.  Read ``optimizer.py`` first.

The simplest rule: step against the gradient, ``p -= lr * grad``.  Momentum keeps a running
sum of past gradients (the "velocity") and steps along it instead, so directions on which
successive gradients agree speed up and directions where they flip sign cancel out.  Nesterov
momentum steps along ``grad + momentum * velocity``: it looks at where the velocity is about
to take the parameters.  Weight decay adds ``weight_decay * p`` to the gradient, which is the
gradient of an L2 penalty ``weight_decay / 2 * |p|²`` on the weights.
"""
from minitorch.optim.optimizer import Optimizer
from minitorch.tensor import Tensor


class SGD(Optimizer):
    r"""``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
    *, maximize=False)``, with PyTorch's exact update.

    For each parameter θ with gradient g, learning rate γ, momentum μ, dampening τ and weight
    decay λ, at step t::

        g ← -g                         if maximize (climb instead of descend)
        g ← g + λ θ                    if λ ≠ 0
        if μ ≠ 0:
            b ← g                      at the first step (no dampening on the first gradient)
            b ← μ b + (1 - τ) g        afterwards
            g ← g + μ b                if nesterov
            g ← b                      otherwise
        θ ← θ - γ g

    The velocity b is ``state[p]['momentum_buffer']``.  (Sutskever et al.'s formulation, which
    PyTorch uses: lr multiplies the velocity, rather than being folded into it.)
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def check_hyperparameters(self, options, where):
        self._require(options, "lr", 0.0, where)
        self._require(options, "momentum", 0.0, where)
        self._require(options, "dampening", 0.0, where)
        self._require(options, "weight_decay", 0.0, where)
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening, "
                             f"got momentum={options['momentum']!r}, "
                             f"dampening={options['dampening']!r}{where}")

    def update(self, p, grad, group):
        """SGD's rule for one parameter (``maximize`` is applied by ``Optimizer.step``)."""
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov = group["weight_decay"], group["nesterov"]
        if weight_decay != 0:
            grad = grad + weight_decay * p.array  # a new array: p.grad stays as it was
        if momentum != 0:
            state = self.state[p]
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = Tensor(grad.copy())
            else:
                velocity = state["momentum_buffer"].array
                velocity *= momentum
                velocity += (1 - dampening) * grad
            velocity = state["momentum_buffer"].array
            grad = grad + momentum * velocity if nesterov else velocity
        p.array -= lr * grad
