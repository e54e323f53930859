"""Loss functions: how far a prediction is from its target, as one number to minimise.

Read after ``ops/reduce.py`` (the softmax family).  Every loss here is built in two steps:

1. an op that computes the loss of *each element* (or each sample, for the classification
   losses), with its backward written beside it, and
2. a *reduction* that turns those per-element losses into what the caller asked for:
   ``'none'`` keeps them, ``'sum'`` adds them, ``'mean'`` averages them (``_reduce``).

Keeping the two apart makes each op's derivative short, and the reduction's gradient comes for
free from ``sum``/``mean``.  The one exception is the *weighted* mean of the classification
losses: PyTorch divides by the total weight of the targets, not by their count (see
``nll_loss``), which is a sum divided by a constant.

Cross-entropy is ``nll_loss(log_softmax(x))``, exactly as PyTorch computes it: log_softmax is
stable for any logits (it subtracts the max), and the negative log-likelihood then just picks
the log-probability of the right class.  Binary cross-entropy on logits is written with
softplus, log(1 + eᶻ) = max(z, 0) + log(1 + e^−|z|), which never overflows, so logits of ±10⁴
give finite losses and gradients.

For ``create_graph=True`` each op's ``backward_graph`` writes its derivative with ops on the
inputs, so the gradient can be differentiated again: the classification loss places −w·dL/dℓ at
the picked entries with an op whose own backward gathers them back (``ScatterIntoZeros``), the
others are their formulas recomputed from x and y; the second derivatives are in the docstrings.
"""
import numpy  # numpy.errstate only

from minitorch import backend

from minitorch.autograd import Function
from minitorch.ops.common import require_floating, require_same_dtype, sum_to_shape
from minitorch.ops.elementwise import (
    cast, clamp, exp, log, promote_types, relu, sigmoid, softplus_array, where)
from minitorch.ops.index import ScatterIntoZeros
from minitorch.ops.reduce import log_softmax
from minitorch.speed.gpu import check_later
from minitorch.tensor import Tensor, as_tensor

REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction, op):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction):
    """Per-element losses → 'none' (as they are), 'sum', or 'mean'."""
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


# ---- classification: negative log-likelihood of class indices ------------------------------------
class NLLLoss(Function):
    """Per-sample loss ℓₙ = −w[tₙ] · log pₙ[tₙ]  (0 where tₙ = ignore_index).

    ``log_probs`` has the classes on axis 1: (N, C) or (N, C, d₁, …); ``target`` holds one class
    index per sample: (N,) or (N, d₁, …).  Only the picked entry of each sample enters the loss,
    so the gradient is zero except there:

        dL/d log pₙ[c] = −w[tₙ] · dL/dℓₙ   if c = tₙ (and tₙ is not ignored), else 0.

    The per-class weights ``w`` and ``ignore_index`` are settings, not inputs: no gradient.
    """

    def __init__(self, class_weight, ignore_index):
        self.class_weight, self.ignore_index = class_weight, ignore_index

    def forward(self, log_probs, target):
        xp = self.xp
        valid = target != self.ignore_index
        safe_target = xp.where(valid, target, 0)  # an index that exists, for the ignored ones
        weight = valid.astype(log_probs.dtype)
        if self.class_weight is not None:
            weight = weight * self.class_weight[safe_target]
        picked = xp.take_along_axis(log_probs, xp.expand_dims(safe_target, 1), axis=1)
        self.log_probs_shape = log_probs.shape
        self.save_for_backward(safe_target, weight)
        return -weight * picked.squeeze(1)

    def backward(self, grad):
        safe_target, weight = self.saved_tensors
        grad_log_probs = self.xp.zeros(self.log_probs_shape, dtype=grad.dtype)
        self.xp.put_along_axis(grad_log_probs, self.xp.expand_dims(safe_target, 1),
                               self.xp.expand_dims(-weight * grad, 1), axis=1)
        return grad_log_probs, None

    def backward_graph(self, grad):
        """The same placement as an op, ``ScatterIntoZeros`` at the picked entries (constants):
        linear in dL/dℓ, nothing of log p, so its derivative with respect to dL/dℓ gathers
        the picked entries again and the one with respect to log p is 0."""
        safe_target, weight = self.saved_tensors
        picked = list(self.xp.ogrid[tuple(slice(0, n) for n in safe_target.shape)])
        picked.insert(1, safe_target)                     # (sample, class, positions…)
        return ScatterIntoZeros(tuple(picked), self.log_probs_shape)(
            -self.constant(weight) * grad), None


def _class_targets(input, target, weight, ignore_index, op):
    """Check the shapes and values of class-index targets; return the per-sample weight sum.

    The classes are on axis 1 of ``input`` (axis 0 for a single unbatched sample).
    """
    if not isinstance(target, Tensor):
        target = as_tensor(target)
    if target.dtype.name not in ("int64", "uint8"):  # PyTorch's rule: Long or Byte
        raise RuntimeError(f"{op}: expected a target of class indices of dtype int64 or uint8 "
                           f"(Long or Byte), got {target.dtype} (convert with .long())")
    if input.ndim < 1:
        raise ValueError(f"{op}: expected input with a class dimension, got a 0-d tensor")
    expected = (input.shape[0],) + input.shape[2:] if input.ndim >= 2 else ()
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} (classes on dim "
                         f"{1 if input.ndim >= 2 else 0}) expects a target of shape {expected}, "
                         f"got {tuple(target.shape)}")
    n_classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
    t = target.array
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    # Checked on the device and read with the next value that leaves it (speed/gpu.py: check_later):
    # no sync of its own on the GPU.
    check_later(bad.any(), lambda: (
        f"{op}: target class {int(backend.to_numpy(t[bad]).reshape(-1)[0])} is out of range "
        f"for {n_classes} classes (expected 0 <= target < {n_classes}, or "
        f"ignore_index={ignore_index})"))
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise ValueError(f"{op}: weight must have one entry per class, shape ({n_classes},), "
                         f"got {tuple(weight.shape)}")
    return target, n_classes


def _total_weight(target, class_weight, ignore_index, dtype):
    """Σₙ w[tₙ] over the targets that are not ignored (their count without class weights): what
    PyTorch's 'mean' divides by.  0 when every target is ignored, so the mean is NaN, as there.
    A 0-d array of ``dtype`` on the targets' device (no value is read back)."""
    valid = target != ignore_index
    if class_weight is None:
        return valid.sum().astype(dtype)
    return (class_weight[target * valid] * valid).sum().astype(dtype)  # ignored: row 0, weight 0


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices, as ``torch.nn.functional.nll_loss``.

    With ``reduction='mean'`` the sum is divided by the total weight of the non-ignored targets,
    Σₙ w[tₙ] (their count when there are no weights) — PyTorch's weighted mean.
    """
    _check_reduction(reduction, "nll_loss")
    target, _ = _class_targets(input, target, weight, ignore_index, "nll_loss")
    unbatched = input.ndim == 1
    if unbatched:  # one sample: give it a batch axis of 1 and take it away at the end
        input, target = input.reshape(1, -1), target.reshape(1)
    class_weight = None if weight is None else as_tensor(weight, like=input).array
    losses = NLLLoss(class_weight, ignore_index)(input, target)
    if reduction == "none":
        return losses.reshape(()) if unbatched else losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / _total_weight(target.array, class_weight, ignore_index, losses.dtype)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy of logits against class indices (or class probabilities: a float
    target shaped like the input), as PyTorch computes it.

    loss = nll_loss(log_softmax(input)).  With label smoothing ε the target distribution is
    (1 − ε)·one_hot + ε/C, which gives

        loss = (1 − ε) · nll + ε/C · Σ_c (−w_c · log p_c)

    where the second sum is reduced like the first (its weighted mean divides by Σₙ w[tₙ] too).
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    class_dim = 1 if input.ndim >= 2 else 0
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing,
                                            class_dim)
    target, n_classes = _class_targets(input, target, weight, ignore_index, "cross_entropy")
    log_probs = log_softmax(input, class_dim)
    nll = nll_loss(log_probs, target, weight, ignore_index, reduction)
    if label_smoothing == 0.0:
        return nll
    if weight is not None:
        weight = as_tensor(weight, like=input)
        shape = [1] * input.ndim
        shape[class_dim] = n_classes
        smooth = -(log_probs * weight.reshape(shape)).sum(class_dim)
    else:
        smooth = -log_probs.sum(class_dim)
    ignored = target == ignore_index
    smooth = smooth.masked_fill(ignored, 0.0)
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        class_weight = None if weight is None else weight.array
        smooth = smooth.sum() / _total_weight(target.array, class_weight, ignore_index,
                                              smooth.dtype)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing, class_dim):
    """Cross-entropy against a distribution over the classes (a float target shaped like the
    input): ℓₙ = −Σ_c w_c · y_nc · log p_nc.  Smoothing mixes y with the uniform distribution,
    y ← (1 − ε)·y + ε/C; the mean is over samples (PyTorch does not divide by weights here)."""
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"cross_entropy: a float target holds class probabilities and must "
                           f"have the input's shape {tuple(input.shape)}, got "
                           f"{tuple(target.shape)} (class indices must be int64)")
    n_classes = input.shape[class_dim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    terms = log_softmax(input, class_dim) * target
    if weight is not None:
        shape = [1] * input.ndim
        shape[class_dim] = n_classes
        terms = terms * as_tensor(weight, like=input).reshape(shape)
    losses = -terms.sum(class_dim)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


# ---- binary classification ----------------------------------------------------------------------
class BinaryCrossEntropyWithLogits(Function):
    """ℓ = −[p·y·log σ(z) + (1 − y)·log(1 − σ(z))] for logits z, targets y, positive weight p.

    With softplus s(z) = log(1 + eᶻ) we have −log σ(z) = s(−z) and −log(1 − σ(z)) = z + s(−z), so

        ℓ = (1 − y)·z + (1 + (p − 1)·y) · s(−z),      s(−z) = max(−z, 0) + log(1 + e^−|z|)

    which is finite for any z.  Its derivatives (using s'(−z) = σ(−z)):

        dℓ/dz = (1 − y) − (1 + (p − 1)·y) · σ(−z)
        dℓ/dy = −z + (p − 1) · s(−z)

    ``backward_graph`` writes these with ops (σ and s stay stable there too), which gives
    ∂²ℓ/∂z² = (1 + (p − 1)·y) · σ(z)·σ(−z),  ∂²ℓ/∂z∂y = −1 − (p − 1)·σ(−z),  ∂²ℓ/∂y² = 0.
    """

    def forward(self, z, y, pos_weight):
        xp = self.xp
        softplus_neg = softplus_array(xp, -z)
        log_weight = 1 + (pos_weight - 1) * y
        self.save_for_backward(z, y, pos_weight, softplus_neg)
        return (1 - y) * z + log_weight * softplus_neg

    def backward(self, grad):
        z, y, pos_weight, softplus_neg = self.saved_tensors
        grad_z = grad_y = None
        if self.needs_input_grad[0]:
            sigmoid_neg = 0.5 * (1 - self.xp.tanh(0.5 * z))  # σ(−z), without overflow
            grad_z = grad * ((1 - y) - (1 + (pos_weight - 1) * y) * sigmoid_neg)
        if self.needs_input_grad[1]:
            grad_y = grad * (-z + (pos_weight - 1) * softplus_neg)
        return grad_z, grad_y, None

    def backward_graph(self, grad):
        z, y, pos_weight = self.inputs
        grad_z = grad_y = None
        if self.needs_input_grad[0]:
            grad_z = grad * ((1 - y) - (1 + (pos_weight - 1) * y) * sigmoid(-z))
        if self.needs_input_grad[1]:
            softplus_neg = relu(-z) + log(1 + exp(-z.abs()))
            grad_y = grad * (-z + (pos_weight - 1) * softplus_neg)
        return grad_z, grad_y, None


class BinaryCrossEntropy(Function):
    """ℓ = −[y·log x + (1 − y)·log(1 − x)] for probabilities x, targets y.

    As in PyTorch each log is clamped at −100, so x = 0 or 1 gives a large finite loss, and

        dℓ/dx = (x − y) / max(x·(1 − x), 10⁻¹²)
        dℓ/dy = −(log x − log(1 − x)) = −logit(x)   (PyTorch does not clamp this one)

    ``backward_graph`` writes these with ops, which gives (away from the clamp)
    ∂²ℓ/∂x² = (x² − 2xy + y) / (x(1 − x))²,  ∂²ℓ/∂x∂y = −1 / (x(1 − x)),  ∂²ℓ/∂y² = 0.
    """

    def forward(self, x, y):
        xp = self.xp
        if x.size and (x.min() < 0 or x.max() > 1):
            raise RuntimeError(f"binary_cross_entropy: all elements of input should be between "
                               f"0 and 1, got values in [{float(x.min())}, {float(x.max())}]")
        with numpy.errstate(divide="ignore"):  # log 0 = −inf is expected; the clamp handles it
            log_x = xp.log(x)
            log_1mx = xp.log1p(-x)
        self.save_for_backward(x, y, log_x, log_1mx)
        return -(y * xp.maximum(log_x, -100) + (1 - y) * xp.maximum(log_1mx, -100))

    def backward(self, grad):
        x, y, log_x, log_1mx = self.saved_tensors
        grad_x = grad_y = None
        if self.needs_input_grad[0]:
            grad_x = grad * (x - y) / self.xp.maximum(x * (1 - x), 1e-12)
        if self.needs_input_grad[1]:
            grad_y = -grad * (log_x - log_1mx)
        return grad_x, grad_y

    def backward_graph(self, grad):
        x, y = self.inputs
        grad_x = grad_y = None
        if self.needs_input_grad[0]:
            grad_x = grad * (x - y) / clamp(x * (1 - x), min=1e-12)
        if self.needs_input_grad[1]:
            grad_y = -grad * (log(x) - log(1 - x))
        return grad_x, grad_y


def _same_shape(input, target, op):
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: target size {tuple(target.shape)} must be the same as input "
                         f"size {tuple(input.shape)}")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable op, as PyTorch's function.

    ``weight`` rescales each element's loss; ``pos_weight`` (one value per class, broadcast
    along the last dim) weighs the positive targets.  The mean is a plain mean over elements.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    target = as_tensor(target, like=input)
    require_floating("binary_cross_entropy_with_logits", input)
    if target.dtype.kind not in "fc":
        raise RuntimeError(f"binary_cross_entropy_with_logits: expected a floating-point target "
                           f"(0/1 labels as floats), got {target.dtype}; convert with .float()")
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    pos_weight = as_tensor(1.0 if pos_weight is None else pos_weight, like=input)
    loss = BinaryCrossEntropyWithLogits()(input, target, pos_weight)
    if weight is not None:
        loss = loss * as_tensor(weight, like=input)
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """Binary cross-entropy of probabilities (in [0, 1]), as PyTorch's function."""
    _check_reduction(reduction, "binary_cross_entropy")
    target = as_tensor(target, like=input)
    require_same_dtype("binary_cross_entropy", RuntimeError, input=input, target=target)
    _same_shape(input, target, "binary_cross_entropy")
    loss = BinaryCrossEntropy()(input, target)
    if weight is not None:
        loss = loss * as_tensor(weight, like=input)
    return _reduce(loss, reduction)


# ---- regression ----------------------------------------------------------------------------------
class MSELoss(Function):
    """ℓ = (x − y)²;   dℓ/dx = 2(x − y),  dℓ/dy = −2(x − y)."""

    def forward(self, x, y):
        diff = x - y
        self.save_for_backward(diff)
        self.x_shape, self.y_shape = x.shape, y.shape
        return diff * diff

    def backward(self, grad):
        diff, = self.saved_tensors
        g = 2 * grad * diff
        return sum_to_shape(g, self.x_shape), sum_to_shape(-g, self.y_shape)

    def backward_graph(self, grad):  # ∂²ℓ/∂x² = ∂²ℓ/∂y² = 2, ∂²ℓ/∂x∂y = −2
        x, y = self.inputs
        g = 2 * grad * (x - y)
        return sum_to_shape(g, self.x_shape), sum_to_shape(-g, self.y_shape)


class L1Loss(Function):
    """ℓ = |x − y|;   dℓ/dx = sign(x − y)  (0 where x = y),  dℓ/dy = −sign(x − y)."""

    def forward(self, x, y):
        diff = x - y
        self.save_for_backward(diff)
        self.x_shape, self.y_shape = x.shape, y.shape
        return self.xp.abs(diff)

    def backward(self, grad):
        diff, = self.saved_tensors
        g = grad * self.xp.sign(diff)
        return sum_to_shape(g, self.x_shape), sum_to_shape(-g, self.y_shape)

    def backward_graph(self, grad):  # the sign is a constant: ∂²ℓ/∂x² = 0
        diff, = self.saved_tensors
        g = grad * self.constant(self.xp.sign(diff))
        return sum_to_shape(g, self.x_shape), sum_to_shape(-g, self.y_shape)


class SmoothL1Loss(Function):
    """Huber-like loss with threshold β, for d = x − y:

        ℓ = ½ d² / β     if |d| < β         dℓ/dd = d / β
        ℓ = |d| − ½ β    otherwise          dℓ/dd = sign(d)

    Quadratic near zero (smooth gradients), linear far away (robust to outliers).  β = 0 is L1.
    Second derivative: ∂²ℓ/∂d² = 1/β where |d| < β, else 0 (where it is a constant mask).
    """

    def __init__(self, beta):
        self.beta = beta

    def forward(self, x, y):
        xp = self.xp
        diff = x - y
        abs_diff = xp.abs(diff)
        self.save_for_backward(diff)
        self.x_shape, self.y_shape = x.shape, y.shape
        if self.beta == 0:
            return abs_diff
        return xp.where(abs_diff < self.beta, 0.5 * diff * diff / self.beta,
                        abs_diff - 0.5 * self.beta)

    def backward(self, grad):
        diff, = self.saved_tensors
        xp = self.xp
        if self.beta == 0:
            slope = xp.sign(diff)
        else:
            slope = xp.where(xp.abs(diff) < self.beta, diff / self.beta, xp.sign(diff))
        g = grad * slope
        return sum_to_shape(g, self.x_shape), sum_to_shape(-g, self.y_shape)

    def backward_graph(self, grad):
        diff, = self.saved_tensors
        sign = self.constant(self.xp.sign(diff))
        if self.beta == 0:
            slope = sign
        else:
            x, y = self.inputs
            slope = where(self.constant(self.xp.abs(diff) < self.beta), (x - y) / self.beta, sign)
        g = grad * slope
        return sum_to_shape(g, self.x_shape), sum_to_shape(-g, self.y_shape)


def _regression_operands(input, target, op, both_int_error=NotImplementedError):
    """Both operands in PyTorch's promoted dtype (float32 with int64 gives float32, float32
    with float64 gives float64); two integer tensors are refused, as there."""
    target = as_tensor(target, like=input)
    if input.dtype.kind not in "fc" and target.dtype.kind not in "fc":
        raise both_int_error(f"{op}: not implemented for integer input and target ({input.dtype} "
                             f"and {target.dtype}); convert them with .float()")
    dtype = promote_types(input.dtype, target.dtype)
    return (input if input.dtype == dtype else cast(input, dtype),
            target if target.dtype == dtype else cast(target, dtype))


def mse_loss(input, target, reduction="mean"):
    _check_reduction(reduction, "mse_loss")
    input, target = _regression_operands(input, target, "mse_loss")
    return _reduce(MSELoss()(input, target), reduction)


def l1_loss(input, target, reduction="mean"):
    _check_reduction(reduction, "l1_loss")
    input, target = _regression_operands(input, target, "l1_loss", RuntimeError)
    return _reduce(L1Loss()(input, target), reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    input, target = _regression_operands(input, target, "smooth_l1_loss")
    return _reduce(SmoothL1Loss(beta)(input, target), reduction)
