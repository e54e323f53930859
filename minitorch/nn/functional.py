"""``minitorch.nn.functional`` (imported as ``F``): every layer's computation as a function.

Read after ``ops/`` and before the layer files (``linear.py``, ``conv.py``, ...).  A layer
object holds its weights and settings; the function here does the math given those weights,
with ``torch.nn.functional``'s names and signatures, so ``F.conv2d(x, w, padding=1)`` reads the
same in both libraries.

Most functions are the ops themselves, re-exported from ``minitorch/ops/`` where each one's
forward and backward are written.  The few defined here are short compositions of ops:
``linear`` (a matmul plus a bias), ``dropout`` (a multiplication by a random mask),
``embedding`` (indexing rows of a table) and ``pad`` (choosing the padding op by mode).
"""
from minitorch import backend
from minitorch.autograd import no_grad
from minitorch.ops.common import require_floating, require_same_dtype
from minitorch.ops.activation import elu, gelu, silu, softplus  # noqa: F401
from minitorch.ops.conv import conv2d, conv_transpose2d, fold, unfold  # noqa: F401
from minitorch.ops.elementwise import leaky_relu as _leaky_relu
from minitorch.ops.elementwise import relu as _relu
from minitorch.ops.elementwise import sigmoid, tanh, where  # noqa: F401
from minitorch.ops.index import one_hot  # noqa: F401
from minitorch.ops.loss import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss,
    nll_loss, smooth_l1_loss)
from minitorch.ops.norm import batch_norm, layer_norm  # noqa: F401
from minitorch.ops.pool import (  # noqa: F401
    adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d)
from minitorch.ops.reduce import log_softmax as _log_softmax
from minitorch.ops.reduce import softmax as _softmax
from minitorch.ops.resample import (  # noqa: F401
    interpolate, pad2d, pixel_shuffle, replication_pad2d)
from minitorch.ops.shape import pad as _constant_pad
from minitorch.speed.gpu import check_later
from minitorch.tensor import Tensor, as_tensor


# ---- activations: torch's signatures (``inplace`` is accepted; the result is a new tensor) -------
def relu(input, inplace=False):
    """max(x, 0).  ``inplace=True`` gives the same values; minitorch always returns a new tensor
    because changing a tensor that backward still needs would make its gradient wrong."""
    return _relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    require_floating("leaky_relu", input)  # a slope times an integer: PyTorch refuses it
    return _leaky_relu(input, negative_slope)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(‖x‖_p, eps) along ``dim``: every slice scaled to length 1 (``eps`` keeps a zero
    slice at zero instead of dividing by 0)."""
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


def softmax(input, dim, dtype=None):
    if dtype is not None:
        input = input.to(dtype=dtype)
    return _softmax(input, dim)


def log_softmax(input, dim, dtype=None):
    if dtype is not None:
        input = input.to(dtype=dtype)
    return _log_softmax(input, dim)


# ---- linear ----------------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """y = x Wᵀ + b, with W of shape (out_features, in_features) as PyTorch stores it.

    Input, weight and bias must share one dtype (an int64 or float64 input into a float32
    layer is an error, as in PyTorch; convert it with ``.float()``)."""
    require_same_dtype("linear", input=input, weight=weight, bias=bias)
    output = input @ weight.t()
    return output if bias is None else output + bias


# ---- dropout ---------------------------------------------------------------------------------------
def _dropout_with_mask_shape(input, p, training, mask_shape, op):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if input.dtype.kind not in "fc":  # the kept values are scaled by 1/(1 − p): floats only
        raise RuntimeError(f"{op}: expected a floating-point input, got {input.dtype}")
    if p == 1.0:  # everything dropped; 1/(1 − p) would divide by zero
        return input * 0.0
    # keep each unit with probability 1 − p and scale the kept ones by 1/(1 − p), so that the
    # expected output equals the input and evaluation mode needs no rescaling ("inverted dropout")
    keep = backend.random(mask_shape, input.device) >= p  # drawn where the input lives
    mask = (keep / (1.0 - p)).astype(input.dtype)
    return input * Tensor(mask)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` (training only) and scale the rest by 1/(1−p)."""
    return _dropout_with_mask_shape(input, p, training, input.shape, "dropout")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: one draw per (sample, channel), shared by all its positions.

    Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels
    regularises little; dropping a channel does.  Input (N, C, H, W); a 3-d input is read as
    (N, C, L), as PyTorch does.
    """
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-d or 4-d input, got shape {tuple(input.shape)}")
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _dropout_with_mask_shape(input, p, training, mask_shape, "dropout2d")


# ---- embedding -------------------------------------------------------------------------------------
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Row ``input[i]`` of ``weight`` for every index: a lookup table, differentiable in ``weight``.

    Indexing's backward adds each output row's gradient into the row it came from (repeats add
    up).  The row ``padding_idx`` must get no gradient, as in PyTorch: its output positions read
    a *detached* copy of the table, so their gradient goes nowhere.  ``max_norm`` renormalises,
    in place, the looked-up rows whose norm exceeds it (PyTorch does the same).
    """
    if scale_grad_by_freq or sparse:
        raise ValueError("embedding: scale_grad_by_freq and sparse gradients are not supported")
    input = as_tensor(input)
    if input.dtype.name not in ("int64", "int32"):  # PyTorch's rule: Long or Int, nothing else
        raise RuntimeError(f"embedding: expected indices of dtype int64 or int32, got "
                           f"{input.dtype} (convert with .long())")
    n = weight.shape[0]
    if input.numel():  # on the GPU checked on the device, read with the next value that leaves it
        i = input.array
        check_later(((i < 0) | (i >= n)).any(), lambda: (
            f"embedding: index {_first_bad_row(i, n)} is out of range for a table of {n} rows"))
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    if max_norm is not None:
        with no_grad():
            rows = weight.xp.unique(input.array)
            norms = (weight.xp.abs(weight.array[rows]) ** norm_type).sum(axis=1) ** (1 / norm_type)
            scale = weight.xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight.array[rows] *= scale[:, None].astype(weight.dtype)
            weight._version_counter[0] += 1
    output = weight[input]
    if padding_idx is None:
        return output
    is_padding = (input == padding_idx).unsqueeze(-1)
    return where(is_padding, weight.detach()[input], output)


def _first_bad_row(index, n):
    values = backend.to_numpy(index)
    return int(values.min()) if values.min() < 0 else int(values.max())


# ---- padding ---------------------------------------------------------------------------------------
def pad(input, pad, mode="constant", value=0.0):
    """Pad the last dims: ``pad`` is (left, right, top, bottom, ...), last dim first.

    mode 'constant' fills with ``value`` (a negative amount crops); 'replicate', 'reflect' and
    'circular' fill with the image's own pixels (the last two dims of a 3-d or 4-d input; see
    ``ops/resample.py``).
    """
    if mode == "constant":
        return _constant_pad(input, pad, value=value)
    if mode in ("replicate", "reflect", "circular"):
        if len(pad) != 4 or input.ndim not in (3, 4):
            raise NotImplementedError(f"pad: mode {mode!r} is implemented for 4 padding values "
                                      f"on a 3-d or 4-d input, got pad={tuple(pad)} and input "
                                      f"shape {tuple(input.shape)}")
        return pad2d(input, tuple(pad), mode)
    raise ValueError(f"pad: mode must be 'constant', 'replicate', 'reflect' or 'circular', "
                     f"got {mode!r}")
