"""Adam and AdamW.  Read ``optimizer.py`` and ``sgd.py`` first.

Adam keeps two running averages per parameter: of the gradient (the momentum, "first moment")
and of the squared gradient (the "second moment").  It steps along the first, divided by the
square root of the second, so every weight moves by about ``lr`` per step whatever the scale of
its gradient: a weight whose gradients are tiny gets the same step size as one whose gradients
are huge.  Both averages start at zero, so early on they are biased towards zero; dividing by
``1 - beta ** step`` (the total weight the average has given to real gradients so far) removes
that bias.

Weight decay, two ways.  Adam (like SGD) adds ``weight_decay * p`` to the gradient, which then
goes through the averages and the division, so weights with large gradients are decayed less
("L2 regularisation").  AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization")
shrinks the weights directly, ``p *= 1 - lr * weight_decay``, before the Adam step: every weight
decays at the same rate.  This is fastai's "true weight decay"; the Learner applies it itself
and gives the optimizer weight_decay=0, so either class serves there.
"""
from minitorch.optim.optimizer import Optimizer
from minitorch.speed.cpu import tuned_for_cpu
from minitorch.speed.gpu import fuse
from minitorch.tensor import Tensor


class Adam(Optimizer):
    r"""``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    *, maximize=False, decoupled_weight_decay=False)``, with PyTorch's exact update.

    For each parameter θ with gradient g, learning rate γ, betas (β₁, β₂) and weight decay λ,
    at step t = 1, 2, ...::

        g ← -g                               if maximize
        θ ← θ (1 - γ λ)                      if λ ≠ 0 and decoupled_weight_decay (AdamW)
        g ← g + λ θ                          if λ ≠ 0 otherwise (Adam)
        m ← β₁ m + (1 - β₁) g                first moment, starts at 0
        v ← β₂ v + (1 - β₂) g²               second moment, starts at 0
        v̂ ← max(v̂, v)                        if amsgrad (v̂ starts at 0); otherwise v̂ = v
        θ ← θ - γ / (1 - β₁ᵗ) · m / (√v̂ / √(1 - β₂ᵗ) + ε)

    The last line is the bias-corrected step θ - γ m̂ / (√v̂' + ε), with m̂ = m / (1 - β₁ᵗ) and
    v̂' = v̂ / (1 - β₂ᵗ), written as PyTorch computes it: ε is added *after* the bias correction.

    State per parameter: ``step`` (an int), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with
    amsgrad, ``max_exp_avg_sq`` (v̂).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=tuple(betas) if isinstance(betas, list) else betas,
                        eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def check_hyperparameters(self, options, where):
        name = type(self).__name__
        self._require(options, "lr", 0.0, where)
        self._require(options, "eps", 0.0, where)
        betas = options["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}{where}")
        self._require(options, "betas", 0.0, where, high=1.0, index=0)
        self._require(options, "betas", 0.0, where, high=1.0, index=1)
        self._require(options, "weight_decay", 0.0, where)

    def update(self, p, grad, group):
        """Adam's rule for one parameter (``maximize`` is applied by ``Optimizer.step``)."""
        xp = p.xp
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay = group["weight_decay"]
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = Tensor(xp.zeros_like(p.array))
            state["exp_avg_sq"] = Tensor(xp.zeros_like(p.array))
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = Tensor(xp.zeros_like(p.array))
        state["step"] += 1
        step = state["step"]

        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p.array *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p.array  # a new array: p.grad stays as it was

        exp_avg, exp_avg_sq = state["exp_avg"].array, state["exp_avg_sq"].array
        if not group["amsgrad"] and not tuned_for_cpu(p.array):
            # The GPU: the whole update as one fused kernel (see adam_update), its results
            # written back in place (and in the parameter's dtype).
            new_p, new_avg, new_avg_sq = adam_update(
                p.array, grad, exp_avg, exp_avg_sq, beta1, beta2,
                lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5, eps)
            p.array[...], exp_avg[...], exp_avg_sq[...] = new_p, new_avg, new_avg_sq
            return
        # m ← β₁ m + (1 - β₁) g, written as "move m the fraction (1 - β₁) of the way to g",
        # which is how PyTorch rounds it (lerp).
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            second_moment = state["max_exp_avg_sq"].array
            xp.maximum(second_moment, exp_avg_sq, out=second_moment)
        else:
            second_moment = exp_avg_sq

        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        denominator = xp.sqrt(second_moment) / bias_correction2 ** 0.5 + eps
        p.array -= step_size * exp_avg / denominator


@fuse
def adam_update(param, grad, exp_avg, exp_avg_sq, beta1, beta2, step_size, correction2, eps):
    """Adam's update of one parameter, as pure element-wise arithmetic (the same as the in-place
    steps of ``Adam.update``): returns the new parameter, first and second moments.  On the GPU
    ``fuse`` (``minitorch/speed/gpu.py``) makes it a single kernel instead of about a dozen."""
    exp_avg = exp_avg + (1 - beta1) * (grad - exp_avg)
    exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * grad * grad
    return param - step_size * exp_avg / (exp_avg_sq ** 0.5 / correction2 + eps), exp_avg, exp_avg_sq


class AdamW(Adam):
    r"""``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False, *, maximize=False)``: Adam with decoupled weight decay.

    The same update as :class:`Adam` with ``decoupled_weight_decay=True``: before the Adam step
    the weights shrink, θ ← θ (1 - γ λ), and the gradient is left alone.  Note the default
    weight_decay of 1e-2 (Adam's is 0), as in PyTorch.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def check_hyperparameters(self, options, where):
        super().check_hyperparameters(options, where)
        if not options["decoupled_weight_decay"]:
            raise ValueError("AdamW: weight decay is always decoupled in AdamW, got "
                             f"decoupled_weight_decay=False{where}; use Adam for coupled decay")
