"""Matrix multiplication, the op that does almost all of a network's arithmetic.

Read after ``ops/elementwise.py``.  For matrices, y = a @ b gives

    dL/da = dL/dy @ bᵀ        dL/db = aᵀ @ dL/dy

(check the shapes: (n, m) = (n, p) @ (p, m) and (k, m) = (k, n) @ (n, m)).  Everything else here
is bookkeeping for the cases PyTorch allows: a vector on either side (treated as a one-row or
one-column matrix), and stacks of matrices whose batch dimensions broadcast (the batch axes of
the gradient are then summed back, exactly as for elementwise broadcasting).
"""
from minitorch.autograd import Function
from minitorch.ops.common import broadcast_shape, require_same_dtype, sum_to_shape
from minitorch.ops.elementwise import _operands
from minitorch.tensor import Tensor


def _swap_last(m):
    return m.swapaxes(-1, -2)


class MatMul(Function):
    """y = a @ b;   dL/da = dL/dy @ bᵀ,  dL/db = aᵀ @ dL/dy."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("matmul: both arguments need at least 1 dimension, got shapes "
                               f"{tuple(a.shape)} and {tuple(b.shape)}")
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                               f"multiplied ({k_a} != {k_b})")
        try:  # the dims before the last two are a batch of matrices: they broadcast
            broadcast_shape("matmul", a.shape[:-2], b.shape[:-2])
        except RuntimeError:
            raise RuntimeError(f"matmul: the batch dims of shapes {tuple(a.shape)} and "
                               f"{tuple(b.shape)} cannot be broadcast together "
                               f"({tuple(a.shape[:-2])} vs {tuple(b.shape[:-2])})") from None
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, grad):
        a, b = self.saved_tensors
        # Make vectors matrices: a (k,) is a (1, k) row, b (k,) a (k, 1) column; then dL/dy gets
        # back the axes that the vectors' product dropped: the column axis (last) for b, then
        # the row axis (second to last) for a.  (Vector @ vector drops both: () -> (1, 1).)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if b.ndim == 1:
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = sum_to_shape(g2 @ _swap_last(b2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            grad_b = sum_to_shape(_swap_last(a2) @ g2, b2.shape).reshape(b.shape)
        return grad_a, grad_b

    def backward_graph(self, grad):
        """The same products on Tensors.  Both are linear in (a, b, dL/dy), so the second
        derivatives are matrix products again: ∂(dL/da)/∂b is dL/dy @ (·)ᵀ, and so on."""
        a, b = self.inputs
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(1) if b.ndim == 1 else b
        g2 = grad
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = sum_to_shape(g2 @ b2.transpose(-1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            grad_b = sum_to_shape(a2.transpose(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return grad_a, grad_b


def matmul(a, b):
    """``a @ b``.  Unlike elementwise ops it does not promote: both must have one dtype, as in
    PyTorch (an int64 image times float32 weights is a bug to report, not to hide)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        require_same_dtype("matmul", a=a, b=b)
    return MatMul()(*_operands(a, b))


def mm(input, mat2):
    """The product of two matrices (2-d only; ``matmul`` broadcasts, ``mm`` does not)."""
    for name, t in (("self", input), ("mat2", mat2)):
        if t.ndim != 2:
            raise RuntimeError(f"mm: {name} must be a matrix, got shape {tuple(t.shape)}")
    return matmul(input, mat2)


def bmm(input, mat2):
    """Batches of matrix products: (b, n, m) @ (b, m, p) → (b, n, p), the same b on both sides."""
    for name, t in (("batch1", input), ("batch2", mat2)):
        if t.ndim != 3:
            raise RuntimeError(f"bmm: {name} must be a 3D tensor, got shape {tuple(t.shape)}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch1 and batch2 must have the same batch size, got "
                           f"{input.shape[0]} and {mat2.shape[0]}")
    return matmul(input, mat2)
