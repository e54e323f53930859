"""Normalisation: batch_norm and layer_norm, each one fused op with a closed-form backward.

Read after ``ops/reduce.py`` (mean and variance), ``ops/blas.py`` (the sums) and ``ops/conv.py``
(why activations are laid out batch-innermost).

Both standardise a group of numbers, then scale and shift them::

    mean = (1/M) Σ x        var = (1/M) Σ (x − mean)²        x̂ = (x − mean) / √(var + eps)
    y = weight · x̂ + bias

batch_norm's groups are the channels (statistics over the batch and every pixel); layer_norm's
groups are the samples (statistics over the last dims).  Composing the op out of mean, sub,
pow, sqrt and div would record ~10 nodes and ~10 temporaries; written as one op, its backward
is the textbook formula (with g = dL/dy and sums over a group of M)::

    dL/dbias   = Σ g                    dL/dweight = Σ g · x̂
    dL/dx      = weight / √(var + eps) · (g − (Σ g)/M − x̂ · (Σ g·x̂)/M)

For ``create_graph=True`` each op's ``backward_graph`` writes the same closed form with ops on
Tensors, recomputing x̂ and 1/√(var + eps) from x (:func:`standardized`), so that differentiating
it again also differentiates the statistics.  The second derivative that comes out, for a
direction δx of one group (what the engine multiplies by), is the directional derivative of
dL/dx = s · (ĝ − mean ĝ − x̂ · mean(ĝ x̂)) with s = 1/√(var + eps) and ĝ = weight · g::

    δx̂ = s · (δx − mean δx − x̂ · mean(x̂ δx))          δs = −s² · mean(x̂ δx)
    δ(dL/dx) = δs/s · dL/dx − s · (δx̂ · mean(ĝ x̂) + x̂ · mean(ĝ δx̂))

and δ(dL/dweight) = Σ g · δx̂: nothing anyone would want to write out by hand, which is why the
ops do it.

The sums are **BLAS reductions** (``row_sums``, ``row_dots``, ``column_sums`` of ``ops/blas.py``): each
group's Σ x and Σ g·x̂ is a dot product that NumPy hands to BLAS, which streams the numbers with
vector instructions; that was measured faster than ``x.sum(axis)`` at the lesson's shapes, and
it accumulates in blocks, so it stays accurate in float32 (an ``einsum`` of products did not).
"""
from minitorch.autograd import Function
from minitorch.ops.blas import column_sums, row_dots, row_sums
from minitorch.ops.common import require_floating, require_same_dtype, sum_to_shape
from minitorch.speed.cpu import tuned_for_cpu
from minitorch.speed.gpu import fuse


def channels_first_matrix(x):
    """x (N, C, ...) as a (C, M) matrix, M = everything but the channel, without copying.

    The statistics do not care in which order the M numbers of a channel come, so we list the
    other axes in the order they lie in memory (largest stride first): then the reshape is a
    free view whether x is (N, C, H, W)-contiguous or batch-innermost (C, H, W, N) as conv2d
    leaves it.  Returns the matrix and the axis order that undoes it.
    """
    others = sorted([0] + list(range(2, x.ndim)), key=lambda axis: -x.strides[axis])
    order = (1, *others)
    return x.transpose(order).reshape(x.shape[1], -1), order


def from_channels_first(matrix, x_shape, order):
    """Undo :func:`channels_first_matrix`: the (C, M) matrix as an array of shape x_shape."""
    inverse = [0] * len(order)
    for position, axis in enumerate(order):
        inverse[axis] = position
    return matrix.reshape([x_shape[axis] for axis in order]).transpose(inverse)


@fuse
def _normalize_affine(centered, inv_std, weight, bias):
    """x̂ = (x − mean)·inv_std and y = x̂·weight + bias, element-wise (one kernel on the GPU)."""
    normalized = centered * inv_std
    return normalized, normalized * weight + bias


@fuse
def _batch_norm_grad(grad, normalized, mean_grad_weight, mean_grad_bias, scale):
    """dL/dx = (g − x̂·mean(g·x̂) − mean(g))·weight·inv_std, element-wise (one kernel on the
    GPU); the same operations, in the same order, as the CPU's in-place steps."""
    return (grad - normalized * mean_grad_weight - mean_grad_bias) * scale


class BatchNorm(Function):
    """Batch normalisation over (N, C), (N, C, L) or (N, C, H, W): one mean and var per channel.

    training: statistics of this batch (biased var to normalise; the running variance gets the
    unbiased one, M/(M − 1)·var, as PyTorch does), and the running stats move toward them:
    running = (1 − momentum)·running + momentum·batch.  Backward is the formula in the module
    docstring.  eval: the running stats are constants, so y is an affine map of x and
    dL/dx = g · weight / √(running_var + eps).
    """

    def __init__(self, running_mean, running_var, has_weight, has_bias, training, momentum, eps):
        self.running_mean, self.running_var = running_mean, running_var
        self.has_weight, self.has_bias = has_weight, has_bias
        self.training, self.momentum, self.eps = training, momentum, eps

    def forward(self, x, *affine):
        xp = self.xp
        weight = affine[0] if self.has_weight else None
        bias = affine[-1] if self.has_bias else None
        matrix, self.order = channels_first_matrix(x)            # (C, M)
        self.x_shape = x.shape
        count = matrix.shape[1]
        if self.training:
            mean = row_sums(xp, matrix) / count
            centered = matrix - mean[:, None]
            var = row_dots(centered, centered) / count            # two passes: no cancellation
            if self.running_mean is not None:
                self.running_mean.array *= 1 - self.momentum
                self.running_mean.array += self.momentum * mean
                self.running_mean._version_counter[0] += 1
            if self.running_var is not None:
                self.running_var.array *= 1 - self.momentum
                self.running_var.array += (self.momentum * count / (count - 1)) * var
                self.running_var._version_counter[0] += 1
        else:  # (a copy of the running mean: backward_graph reads it after later updates)
            mean, var = self.running_mean.array.copy(), self.running_var.array
            centered = matrix - mean[:, None]
        inv_std = 1 / xp.sqrt(var + self.eps)
        if weight is not None and bias is not None and not tuned_for_cpu(x):
            # the GPU: x̂ and the affine map in one fused kernel (speed/gpu.py: fuse)
            normalized, out = _normalize_affine(centered, inv_std[:, None], weight[:, None],
                                                bias[:, None])
            self.save_for_backward(normalized, inv_std, weight, mean)
            return from_channels_first(out, x.shape, self.order)
        normalized = centered
        normalized *= inv_std[:, None]                            # x̂, in place of x − mean
        out = normalized * weight[:, None] if weight is not None else normalized.copy()
        if bias is not None:
            out += bias[:, None]
        self.save_for_backward(normalized, inv_std, weight, mean)
        return from_channels_first(out, x.shape, self.order)

    def backward(self, grad):
        xp = self.xp
        normalized, inv_std, weight, _ = self.saved_tensors
        count = normalized.shape[1]
        # the same axis order as forward's matrix, so column k of both is the same element
        grad = grad.transpose(self.order).reshape(grad.shape[1], -1)
        grad_bias = row_sums(xp, grad)                            # Σ g
        grad_weight = row_dots(grad, normalized)                  # Σ g·x̂
        grads = []
        if self.needs_input_grad[0]:
            scale = inv_std if weight is None else inv_std * weight
            if self.training and not tuned_for_cpu(grad):  # the GPU: one fused kernel
                grad_x = _batch_norm_grad(grad, normalized, (grad_weight / count)[:, None],
                                          (grad_bias / count)[:, None], scale[:, None])
            elif self.training:
                grad_x = grad - normalized * (grad_weight / count)[:, None]
                grad_x -= (grad_bias / count)[:, None]
                grad_x *= scale[:, None]
            else:
                grad_x = grad * scale[:, None]
            grads.append(from_channels_first(grad_x, self.x_shape, self.order))
        else:
            grads.append(None)
        if self.has_weight:
            grads.append(grad_weight)
        if self.has_bias:
            grads.append(grad_bias)
        return tuple(grads)

    def backward_graph(self, grad):
        """The closed form of ``backward`` with ops (see the module docstring): in training the
        statistics are recomputed from x; in eval they are constants, so y is affine in x."""
        x = self.inputs[0]
        per_channel = (1, -1) + (1,) * (x.ndim - 2)        # a (C,) vector broadcast against x
        dims = (0,) + tuple(range(2, x.ndim))
        if self.training:
            normalized, inv_std = standardized(x, dims, self.eps)
        else:
            _, inv_std, _, mean = self.saved_tensors
            inv_std = self.constant(inv_std.reshape(per_channel))
            normalized = (x - self.constant(mean.reshape(per_channel))) * inv_std
        weight = self.inputs[1].reshape(per_channel) if self.has_weight else None
        return affine_backward_graph(self, grad, normalized, inv_std, weight, dims, self.training,
                                     lambda g: g.sum(dim=dims))


def standardized(x, dims, eps):
    """x̂ = (x − mean)/√(var + eps) and 1/√(var + eps) over ``dims`` (kept), with ops on x."""
    centered = x - x.mean(dim=dims, keepdim=True)
    inv_std = ((centered * centered).mean(dim=dims, keepdim=True) + eps) ** -0.5
    return centered * inv_std, inv_std


def affine_backward_graph(op, grad, normalized, inv_std, weight, dims, batch_statistics,
                          parameter_sum):
    """The gradients of y = weight · x̂ + bias as ops: dL/dx (through the statistics when they
    are the batch's own), then dL/dweight = Σ g · x̂ and dL/dbias = Σ g, each summed to the
    parameter's shape by ``parameter_sum``."""
    grads = [None]
    if op.needs_input_grad[0]:
        grad_normalized = grad * weight if weight is not None else grad
        if batch_statistics:
            mean_grad = grad_normalized.mean(dim=dims, keepdim=True)
            mean_grad_dot = (grad_normalized * normalized).mean(dim=dims, keepdim=True)
            grads[0] = (grad_normalized - mean_grad - normalized * mean_grad_dot) * inv_std
        else:
            grads[0] = grad_normalized * inv_std
    if op.has_weight:
        grads.append(parameter_sum(grad * normalized))
    if op.has_bias:
        grads.append(parameter_sum(grad))
    return tuple(grads)


class LayerNorm(Function):
    """Layer normalisation: one mean and var per sample, over the last ``len(normalized_shape)``
    dims; weight and bias have ``normalized_shape`` and act per feature.

    The input is a (B, D) matrix, a row per sample.  Backward is the module docstring's formula
    with sums along each row, except that the weight now multiplies per column, so
    dL/dx̂ = g · weight and dL/dx = (1/√(var + eps)) · (dx̂ − (Σ dx̂)/D − x̂ · (Σ dx̂·x̂)/D).
    """

    def __init__(self, normalized_shape, has_weight, has_bias, eps):
        self.normalized_shape, self.eps = normalized_shape, eps
        self.has_weight, self.has_bias = has_weight, has_bias

    def forward(self, x, *affine):
        xp = self.xp
        features = 1
        for n in self.normalized_shape:
            features *= n
        matrix = x.reshape(-1, features)                          # (B, D)
        mean = row_sums(xp, matrix) / features
        centered = matrix - mean[:, None]
        var = row_dots(centered, centered) / features
        inv_std = 1 / xp.sqrt(var + self.eps)
        normalized = centered
        normalized *= inv_std[:, None]
        weight = affine[0].reshape(-1) if self.has_weight else None
        bias = affine[-1].reshape(-1) if self.has_bias else None
        out = normalized * weight if weight is not None else normalized.copy()
        if bias is not None:
            out += bias
        self.x_shape = x.shape
        self.save_for_backward(normalized, inv_std, weight)
        return out.reshape(x.shape)

    def backward(self, grad):
        xp = self.xp
        normalized, inv_std, weight = self.saved_tensors
        features = normalized.shape[1]
        grad = grad.reshape(normalized.shape)
        grads = []
        if self.needs_input_grad[0]:
            grad_normalized = grad * weight if weight is not None else grad
            mean_grad = row_sums(xp, grad_normalized) / features
            mean_grad_dot = row_dots(grad_normalized, normalized) / features
            grad_x = grad_normalized - normalized * mean_grad_dot[:, None]
            grad_x -= mean_grad[:, None]
            grad_x *= inv_std[:, None]
            grads.append(grad_x.reshape(self.x_shape))
        else:
            grads.append(None)
        if self.has_weight:
            grads.append(column_sums(xp, grad * normalized).reshape(self.normalized_shape))
        if self.has_bias:
            grads.append(column_sums(xp, grad).reshape(self.normalized_shape))
        return tuple(grads)

    def backward_graph(self, grad):
        """The closed form of ``backward`` with ops, the statistics recomputed from x (see the
        module docstring)."""
        x = self.inputs[0]
        dims = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        normalized, inv_std = standardized(x, dims, self.eps)
        weight = self.inputs[1] if self.has_weight else None   # broadcasts over the last dims
        return affine_backward_graph(self, grad, normalized, inv_std, weight, dims, True,
                                     lambda g: sum_to_shape(g, self.normalized_shape))


# ---- the functions users call (torch.nn.functional's signatures) ----------------------------------
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Normalise each channel of ``input`` (N, C, ...) by batch (training) or running statistics.

    In training mode the running stats (if given) are updated in place, as in PyTorch.
    """
    if input.ndim not in (2, 3, 4):
        raise ValueError(f"batch_norm: expected a 2-D, 3-D or 4-D input (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise RuntimeError(f"batch_norm: expected {name} of shape ({channels},) for an "
                               f"input with {channels} channels, got shape {tuple(t.shape)}")
    require_floating("batch_norm", input)
    require_same_dtype("batch_norm", input=input, running_mean=running_mean,
                       running_var=running_var, weight=weight, bias=bias)
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("batch_norm: running_mean and running_var must be given when not "
                           "training (there are no batch statistics to use in eval mode)")
    if training and input.numel() // channels <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {tuple(input.shape)}")
    affine = [t for t in (weight, bias) if t is not None]
    op = BatchNorm(running_mean, running_var, weight is not None, bias is not None,
                   bool(training), float(momentum), float(eps))
    return op(input, *affine)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample of ``input`` over its last dims, which must be ``normalized_shape``."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape or len(shape) > input.ndim:
        raise RuntimeError(f"layer_norm: expected an input whose last dims are "
                           f"normalized_shape {list(shape)}, got shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"layer_norm: expected {name} of shape {shape}, got shape "
                               f"{tuple(t.shape)}")
    require_same_dtype("layer_norm", input=input, weight=weight, bias=bias)
    require_floating("layer_norm", input)
    affine = [t for t in (weight, bias) if t is not None]
    return LayerNorm(shape, weight is not None, bias is not None, float(eps))(input, *affine)
