"""RMSprop.  Read ``optimizer.py`` and ``sgd.py`` first; ``adam.py`` builds on the same idea.

RMSprop (Hinton's Coursera lecture 6e) divides each gradient by the root of a running mean of
its recent squares, so every weight steps by about ``lr`` whatever the scale of its gradients.
Adam is RMSprop plus momentum on the gradient and a bias correction; RMSprop has neither
correction nor, by default, momentum.  The *centered* variant divides by an estimate of the
gradient's standard deviation instead (the mean of squares minus the square of the mean).
"""
from minitorch.optim.optimizer import Optimizer
from minitorch.tensor import Tensor


class RMSprop(Optimizer):
    r"""``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, *, maximize=False)``, with PyTorch's exact update.

    For each parameter θ with gradient g, learning rate γ, smoothing constant α, momentum μ and
    weight decay λ::

        g ← -g                         if maximize
        g ← g + λ θ                    if λ ≠ 0
        v ← α v + (1 - α) g²           mean of squares, starts at 0
        if centered:
            ḡ ← α ḡ + (1 - α) g        mean of gradients, starts at 0
            d ← √(v - ḡ²) + ε
        else:
            d ← √v + ε
        if μ > 0:
            b ← μ b + g / d            starts at 0
            θ ← θ - γ b
        else:
            θ ← θ - γ g / d

    Unlike Adam's, the averages are not bias-corrected, so the first steps are large (v starts
    at (1 - α) g², making the first step about γ / √(1 - α) = 10 γ with the default α).

    State per parameter: ``step`` (an int), ``square_avg`` (v), and ``momentum_buffer`` (b)
    with momentum, ``grad_avg`` (ḡ) when centered.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def check_hyperparameters(self, options, where):
        self._require(options, "lr", 0.0, where)
        self._require(options, "alpha", 0.0, where)
        self._require(options, "eps", 0.0, where)
        self._require(options, "weight_decay", 0.0, where)
        self._require(options, "momentum", 0.0, where)

    def update(self, p, grad, group):
        """RMSprop's rule for one parameter (``maximize`` is applied by ``Optimizer.step``)."""
        xp = p.xp
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["square_avg"] = Tensor(xp.zeros_like(p.array))
        # Created when first needed, so that switching momentum or centering on in the middle
        # of training starts them from zero instead of failing.
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = Tensor(xp.zeros_like(p.array))
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = Tensor(xp.zeros_like(p.array))
        state["step"] += 1

        if weight_decay != 0:
            grad = grad + weight_decay * p.array  # a new array: p.grad stays as it was

        square_avg = state["square_avg"].array
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"].array
            # ḡ ← α ḡ + (1 - α) g, as "move ḡ the fraction (1 - α) of the way to g" (lerp, which
            # is how PyTorch rounds it).
            grad_avg += (1 - alpha) * (grad - grad_avg)
            denominator = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            denominator = xp.sqrt(square_avg) + eps

        if momentum > 0:
            velocity = state["momentum_buffer"].array
            velocity *= momentum
            velocity += grad / denominator
            p.array -= lr * velocity
        else:
            p.array -= lr * grad / denominator
