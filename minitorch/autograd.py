"""Reverse-mode automatic differentiation: the graph, ``Function`` and ``backward``.

Read after ``backend.py`` and before ``tensor.py``.

The idea in three sentences.  Every op is a :class:`Function`: ``forward`` computes its output
from plain arrays, and ``backward`` turns the gradient of the loss with respect to that output
into gradients with respect to its inputs (the chain rule, one link at a time).  Calling a
Function on tensors records it as the ``grad_fn`` of the tensor it makes, so the tensors and
the Functions between them form a graph from the inputs to the loss.  ``backward`` walks that
graph from the loss back to the leaves, in reverse topological order, handing each Function the
gradient of its output and adding what it returns into the gradients of its inputs.

Three details make it correct rather than merely plausible:

* A tensor used twice (``a + a``, or a diamond) gets the *sum* of the gradients of its uses, so
  each Function runs only after every use of its output has delivered its gradient (we count
  the uses first, then process a node when its count reaches zero: Kahn's algorithm).  The walk
  is a loop, not recursion, so a graph 10,000 ops deep is fine.
* ``forward`` keeps what ``backward`` will need with :meth:`Function.save_for_backward`.  If one
  of those arrays belongs to a tensor that is later changed in place, the gradient would be
  silently wrong; every tensor carries a version counter that in-place ops bump, and
  ``backward`` refuses to run on a changed tensor.
* After ``backward`` the saved arrays are released (memory!), unless ``retain_graph=True``;
  running backward through a released graph is an error that says so.
"""
import contextlib

from minitorch import backend
from minitorch import tensor as _tensor_module  # tensor.py imports us; we need Tensor at call time

# ---- grad mode ------------------------------------------------------------------------------------
_grad_enabled = True


def is_grad_enabled():
    """Whether new ops are recorded for backward."""
    return _grad_enabled


@contextlib.contextmanager
def _grad_mode(mode):
    """Record ops (True) or not (False) inside a ``with`` block, then restore the old mode."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(mode)
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """``with minitorch.no_grad():`` computes without recording a graph (evaluation, updates).

    Also a decorator: ``@minitorch.no_grad()`` above a function turns recording off inside it.
    """
    return _grad_mode(False)


def enable_grad():
    """``with minitorch.enable_grad():`` records ops again inside a ``no_grad`` block."""
    return _grad_mode(True)


class set_grad_enabled:
    """``set_grad_enabled(False)`` turns recording off from now on; ``with
    set_grad_enabled(mode):`` sets it for the block only and restores it afterwards (as torch)."""

    def __init__(self, mode):
        global _grad_enabled
        self.previous, _grad_enabled = _grad_enabled, bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        global _grad_enabled
        _grad_enabled = self.previous
        return False


# ---- Function ------------------------------------------------------------------------------------
class Function:
    """Base class of every differentiable op.

    A subclass writes::

        class Exp(Function):
            def forward(self, x):            # plain arrays in ...
                y = self.xp.exp(x)
                self.save_for_backward(y)
                return y                     # ... plain array(s) out
            def backward(self, grad_y):      # dL/dy in ...
                y, = self.saved_tensors
                return grad_y * y            # ... dL/dx out, one per input (None: no gradient)

    and users call ``Exp()(x)`` on Tensors.  ``self.xp`` is the array module of the inputs'
    device.  ``self.needs_input_grad[i]`` tells backward which gradients are wanted.
    Non-array settings (an axis, a shape) are plain attributes; arrays that backward needs go
    through ``save_for_backward`` so that they are version-checked and freed.

    Set ``differentiable = False`` for ops whose output has no gradient (comparisons, argmax).
    Set ``is_view = True`` for ops whose outputs share memory with their first input (reshape,
    transpose, basic slicing, split): the outputs then share the input's version counter, so an
    in-place change through any one of them is seen by all.
    """

    differentiable = True
    is_view = False

    def __call__(self, *inputs):
        as_tensor = _tensor_module.as_tensor
        tensors = [x if isinstance(x, _tensor_module.Tensor) else None for x in inputs]
        device = next((t.device for t in tensors if t is not None), None)
        for t in tensors:
            if t is not None and t.device != device:
                raise RuntimeError(
                    f"{type(self).__name__}: expected all tensors on one device, got {device!r} "
                    f"and {t.device!r}; move one with .to(device)")
        # Python numbers and arrays become tensors of a matching dtype on the same device.
        like = next((t for t in tensors if t is not None), None)
        tensors = [t if t is not None else as_tensor(x, like=like) for t, x in zip(tensors, inputs)]
        self.xp = backend.array_module(tensors[0].device)

        outputs = self.forward(*[t.array for t in tensors])
        single = not isinstance(outputs, tuple)
        if single:
            outputs = (outputs,)
        # NumPy returns a scalar, not a 0-d array, from some ops on 0-d arrays; keep arrays.
        # An array output stays on the device it is on: ToDevice's output is on another one.
        outputs = tuple(out if backend.is_array(out) else self.xp.asarray(out)
                        for out in outputs)

        requires_grad = (self.differentiable and _grad_enabled
                         and any(t.requires_grad for t in tensors))
        results = tuple(_tensor_module.Tensor(out, requires_grad=requires_grad and
                                              out.dtype.kind in "fc")
                        for out in outputs)
        if self.is_view:  # every output (split gives several) is a window onto the input
            for r in results:
                r._version_counter = tensors[0]._version_counter
        if requires_grad:
            self.inputs = tensors
            self.needs_input_grad = tuple(t.requires_grad for t in tensors)
            self.output_shapes = [(out.shape, out.dtype) for out in outputs]
            self.output_xp = backend.array_module(backend.device_of(outputs[0]))
            self._released = False
            self._track_saved(tensors, results)
            for i, r in enumerate(results):
                if r.requires_grad:
                    r.grad_fn, r._output_index = self, i
        else:
            self._saved = None  # nothing will call backward: do not keep the arrays alive
        return results[0] if single else results

    # -- what forward keeps for backward ----------------------------------------------------------
    def save_for_backward(self, *arrays):
        """Keep ``arrays`` (or None) for backward.  Call from ``forward``."""
        self._saved = arrays

    def _track_saved(self, inputs, outputs):
        # Remember the version of every saved array that is the data of an input or output
        # tensor; backward checks that none of them changed in the meantime.
        saved = getattr(self, "_saved", None)
        self._saved_versions = []
        if not saved:
            return
        for array in saved:
            for t in (*inputs, *outputs):
                if array is t.array:
                    self._saved_versions.append((t, t._version_counter[0]))
                    break

    @property
    def saved_tensors(self):
        """The arrays given to ``save_for_backward``, after checking nothing changed them."""
        if self._released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({type(self).__name__}'s "
                "saved arrays were freed by the first backward). Specify retain_graph=True "
                "in the first backward() if you need to call it twice.")
        for t, version in self._saved_versions:
            if t._version_counter[0] != version:
                raise RuntimeError(
                    f"one of the tensors needed for gradient computation has been modified by an "
                    f"inplace operation: a tensor of shape {tuple(t.shape)} saved by "
                    f"{type(self).__name__} is at version {t._version_counter[0]}; expected "
                    f"version {version}. Change it out of place (y = y + 1) instead.")
        return getattr(self, "_saved", None) or ()

    def release(self):
        """Free what forward saved; called by backward unless retain_graph=True.

        The inputs go too: they hold the activations, which would otherwise stay alive for as
        long as the loss tensor does.
        """
        self.inputs = ()
        self._saved = None
        self._saved_versions = []
        self._released = True

    # -- the two halves every op writes -------------------------------------------------------------
    def forward(self, *arrays):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, *grad_outputs):
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


# ---- the backward pass ----------------------------------------------------------------------------
def backward(root, gradient=None, retain_graph=False):
    """Add d(root)/d(leaf) · gradient into ``leaf.grad`` for every leaf that requires grad.

    ``gradient`` is dL/d(root); it may be left out only when ``root`` has one element (then it
    is 1).  Called by ``Tensor.backward``.
    """
    Tensor = _tensor_module.Tensor
    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for scalar outputs: backward() of a tensor "
                f"of shape {tuple(root.shape)} needs backward(gradient) with a tensor of that shape")
        grad = root.xp.ones_like(root.array)
    else:
        grad = gradient.array if isinstance(gradient, Tensor) else root.xp.asarray(gradient)
        if grad.shape != root.array.shape:
            raise RuntimeError(f"backward: gradient has shape {tuple(grad.shape)}, but the tensor "
                               f"has shape {tuple(root.shape)}")
        grad = grad.astype(root.dtype, copy=False)

    if root.grad_fn is None:  # backward() on a leaf: its gradient is the given one
        _accumulate(root, grad)
        return

    # 1. Count, for every Function in the graph, how many uses of its outputs lie above it.
    uses = {root.grad_fn: 0}
    stack = [root.grad_fn]
    while stack:
        node = stack.pop()
        if node._released:
            node.saved_tensors  # raises the "backward through the graph a second time" error
        for t in node.inputs:
            parent = t.grad_fn
            if parent is not None:
                if parent not in uses:
                    uses[parent] = 0
                    stack.append(parent)
                uses[parent] += 1

    # 2. Process a Function once all its uses have delivered their gradients (Kahn's algorithm).
    pending = {root.grad_fn: [None] * len(root.grad_fn.output_shapes)}
    pending[root.grad_fn][root._output_index] = grad
    retained = {root.grad_fn: {id(root): root} if root._retains_grad else {}}
    ready = [root.grad_fn]
    while ready:
        node = ready.pop()
        grads_out = pending.pop(node)
        for t in retained.pop(node, {}).values():
            _accumulate(t, grads_out[t._output_index])
        # An output that received no gradient contributes zero.
        grads_out = [g if g is not None else node.output_xp.zeros(shape, dtype)
                     for g, (shape, dtype) in zip(grads_out, node.output_shapes)]
        grads_in = node.backward(*grads_out)
        if not isinstance(grads_in, tuple):
            grads_in = (grads_in,)
        if len(grads_in) != len(node.inputs):
            raise RuntimeError(f"{type(node).__name__}.backward returned {len(grads_in)} "
                               f"gradients for {len(node.inputs)} inputs")
        for t, g in zip(node.inputs, grads_in):
            if g is None or not t.requires_grad:
                continue
            if not isinstance(g, node.xp.ndarray):  # a NumPy scalar from 0-d arithmetic
                g = node.xp.asarray(g, dtype=t.dtype)
            if g.shape != t.array.shape:
                raise RuntimeError(f"{type(node).__name__}.backward returned a gradient of shape "
                                   f"{tuple(g.shape)} for an input of shape {tuple(t.shape)}")
            # A gradient has its tensor's dtype (as in PyTorch's engine): a float32 network stays
            # float32 even where a backward's arithmetic drifted to float64.
            g = g.astype(t.dtype, copy=False)
            if t.grad_fn is None:
                _accumulate(t, g)
                continue
            parent = t.grad_fn
            slots = pending.setdefault(parent, [None] * len(parent.output_shapes))
            i = t._output_index
            slots[i] = g if slots[i] is None else slots[i] + g
            if t._retains_grad:
                retained.setdefault(parent, {})[id(t)] = t
        for t in node.inputs:
            parent = t.grad_fn
            if parent is not None:
                uses[parent] -= 1
                if uses[parent] == 0:
                    ready.append(parent)
        if not retain_graph:
            node.release()


def _accumulate(t, grad):
    """t.grad += grad (a leaf's gradients add up across backward calls until zero_grad)."""
    grad = grad.astype(t.dtype, copy=False)
    if t.grad is None:
        # Own the memory: grad may be a view of an array that the graph still uses.
        t.grad = _tensor_module.Tensor(grad.copy())
    else:
        t.grad.array += grad
