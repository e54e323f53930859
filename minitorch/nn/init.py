"""Weight initialisation: the starting point of training, with ``torch.nn.init``'s names.

Read after ``module.py``.  A network trains well when every layer's output has about the same
scale as its input; otherwise activations shrink or blow up layer after layer.  A layer with
``fan_in`` inputs per output sums ``fan_in`` products, so its weights need a standard deviation
of about ``gain / sqrt(fan_in)``, where the gain corrects for what the nonlinearity does to the
scale (ReLU zeroes half the values: gain √2).

* Xavier/Glorot (2010): std = gain · √(2 / (fan_in + fan_out)), a compromise between keeping
  the forward and the backward pass at scale.
* Kaiming/He (2015): std = gain / √fan, with fan = fan_in (forward) or fan_out (backward).
* Orthogonal (Saxe et al., 2013): a random orthogonal matrix keeps every vector's length, so
  a deep linear stack neither shrinks nor blows up its input (RNNs use it for their recurrence).

A uniform distribution on [−b, b] has std b/√3, so the uniform variants use b = √3 · std.

Every function changes its tensor in place (the trailing underscore), without recording it in
the graph, and returns it.  A tensor with no elements (``nn.Linear(0, 3)``, ``nn.Conv2d(1, 2,
0)``) has no fan to scale by: the scaled inits leave it alone with a warning, as PyTorch does.
"""
import math
import warnings

import numpy  # host-side: orthogonal_ factorises its random draw on the host, where it is drawn

from minitorch import backend
from minitorch.autograd import no_grad


def calculate_gain(nonlinearity, param=None):
    """The factor by which ``nonlinearity`` should scale the std of the weights before it."""
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    """For a Linear weight (out, in): fan_in = in, fan_out = out.  For a conv weight
    (out, in, kh, kw) each input also spans the kh·kw window: fan_in = in·kh·kw."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than "
                         f"2 dimensions, got shape {tuple(tensor.shape)}")
    receptive_field = 1
    for n in tensor.shape[2:]:
        receptive_field *= n
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with samples from U(a, b)."""
    with no_grad():
        return tensor.uniform_(a, b)


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with samples from N(mean, std²)."""
    with no_grad():
        return tensor.normal_(mean, std)


def constant_(tensor, val):
    with no_grad():
        return tensor.fill_(val)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def _is_empty(tensor):
    """True (with PyTorch's warning) for a tensor with no elements: nothing to initialise."""
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return True
    return False


def xavier_uniform_(tensor, gain=1.0):
    """U(−b, b) with b = gain · √(6 / (fan_in + fan_out)), so std = gain · √(2 / (fan_in + fan_out))."""
    if _is_empty(tensor):
        return tensor
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    if _is_empty(tensor):
        return tensor
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(−b, b) with b = √3 · gain / √fan, gain = calculate_gain(nonlinearity, a).

    PyTorch's default Linear/Conv init is this with a = √5, which works out to b = 1/√fan_in.
    """
    if _is_empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std²) with std = gain / √fan."""
    if _is_empty(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std)


def orthogonal_(tensor, gain=1.0):
    """A random (semi-)orthogonal matrix, times ``gain``: rows orthonormal when there are fewer
    rows than columns, columns orthonormal otherwise.  Dims after the first are flattened
    (a conv weight (out, in, kh, kw) is read as out × (in·kh·kw)).

    How: draw a matrix A of standard normal values (rows × cols, transposed when wide, so that
    it is tall), factor A = QR, and flip the sign of each column of Q whose diagonal entry of R
    is negative — that makes Q uniformly distributed over the orthogonal matrices (Mezzadri,
    2007), exactly as PyTorch does.  Drawn and factorised on the host, like every random init
    here (``backend.rng``), then copied into the tensor on its device.
    """
    if tensor.ndim < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported (orthogonal_ "
                         f"got shape {tuple(tensor.shape)})")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    draw = backend.rng().standard_normal((rows, cols)).astype(tensor.dtype)
    tall = draw.T if rows < cols else draw
    q, r = numpy.linalg.qr(tall)
    q = q * numpy.sign(numpy.diagonal(r))
    q = q.T if rows < cols else q
    with no_grad():
        tensor.copy_(numpy.ascontiguousarray(q).reshape(tensor.shape))
        tensor.mul_(gain)
    return tensor


def default_bias_bound(weight):
    """The bound of PyTorch's default bias init for Linear and conv layers: 1/√fan_in."""
    fan_in, _ = _calculate_fan_in_and_fan_out(weight)
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


def default_init_(weight, bias=None):
    """PyTorch's default init of Linear and conv layers: weight and bias uniform in ±1/√fan_in.

    The weight gets ``kaiming_uniform_`` with a = √5, which works out to exactly that bound; the
    bias (when there is one) takes the bound from the weight's fan_in.  Returns the weight.
    """
    kaiming_uniform_(weight, a=5 ** 0.5)
    if bias is not None:
        bound = default_bias_bound(weight)
        uniform_(bias, -bound, bound)
    return weight
