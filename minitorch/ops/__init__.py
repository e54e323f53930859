"""The ops: every differentiable computation minitorch can do, one class per op.

Read in this order: ``common.py`` (broadcast bookkeeping, ``pair``), ``elementwise.py``,
``matmul.py``, ``reduce.py``, ``shape.py``, ``index.py``; then the neural-network ops, which are
built the same way: ``conv.py`` (im2col: first the readable version, then the fast one, built on
``windows.py``: the batch-innermost layout, window view, im2col, col2im), ``pool.py``, ``blas.py``
(sums as BLAS products) and ``norm.py``, ``activation.py`` (GELU, SiLU, softplus, ELU),
``resample.py`` (interpolate, pixel shuffle), ``loss.py``, and ``rnn.py`` (a whole recurrent
layer as one op, its backpropagation through time written by hand).
"""
from minitorch.ops.elementwise import (  # noqa: F401
    abs, add, cast, clamp, clone, cos, div, eq, exp, ge, gt, le, leaky_relu, log, logical_and,
    logical_not, logical_or, lt, maximum, minimum, mul, ne, neg, pow, relu, sigmoid, sin, sqrt,
    sub, tanh, to_device, where)
from minitorch.ops.matmul import bmm, matmul, mm  # noqa: F401
from minitorch.ops.reduce import (  # noqa: F401
    all, amax, amin, any, argmax, argmin, cumsum, log_softmax, logsumexp, max, mean, min, softmax,
    std, sum, var)
# (reduce's ``norm`` is not named here: ``ops.norm`` is the module of batch and layer norm)
from minitorch.ops.shape import (  # noqa: F401
    cat, chunk, concatenate, contiguous, expand, flatten, flip, narrow, pad, permute, repeat,
    reshape, split, squeeze, stack, transpose, unsqueeze, view)
from minitorch.ops.index import (  # noqa: F401
    argsort, gather, getitem, masked_fill, one_hot, sort, topk, tril, triu)
from minitorch.ops import index  # noqa: F401  (Tensor.__setitem__ uses index.array_key)
