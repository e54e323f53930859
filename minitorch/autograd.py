"""Reverse-mode automatic differentiation: the graph, ``Function``, ``backward`` and ``grad``.

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

**Gradients of gradients (``create_graph=True``).**  ``backward`` works on arrays, so the
gradient it delivers is a plain number: nothing recorded how it was computed, and it cannot be
differentiated again.  Some methods need exactly that: a gradient penalty ‖∇ₓD(x)‖ (WGAN-GP), a
Hessian-vector product, Newton's method.  So every op also has ``backward_graph``, the *same*
derivative written with minitorch ops on Tensors (``grad * x.exp()`` instead of
``grad * y_array``).  With ``create_graph=True`` the engine hands Tensors around instead of
arrays, calls ``backward_graph`` instead of ``backward``, and records ops while it does: each
gradient it returns is the output of a new graph, which reaches back to the op's inputs (and to
the upstream gradient), and differentiating it is one more backward through that graph — to
any order, since the ops ``backward_graph`` uses have their own ``backward_graph``.  Two rules
follow.  ``backward_graph`` recomputes what it needs from the op's input Tensors
(``self.inputs``): an array saved in forward is a constant, and differentiating through it
would silently give zero; so under ``create_graph`` the inputs must be unchanged since forward
(the version check covers them too).  Only what is really constant — a ReLU's mask, a max's
winning index — is read from the saved arrays.  Without ``create_graph`` nothing of this runs:
the first-order path is the fast array code it always was.

:func:`grad` (``torch.autograd.grad``) returns the gradients of some outputs with respect to
some inputs instead of adding them into ``.grad``; it walks only the part of the graph that
leads to those inputs.  The default of ``retain_graph`` is ``create_graph``: a graph that was
differentiated into a new graph is usually walked again.
"""
import functools

from minitorch import backend
from minitorch import tensor as _tensor_module  # tensor.py imports us; we need Tensor at call time

# ---- grad mode ------------------------------------------------------------------------------------
_grad_enabled = True


def is_grad_enabled():
    """Whether new ops are recorded for backward."""
    return _grad_enabled


class _GradMode:
    """Record ops (``mode`` True) or not (False) inside a ``with`` block, then restore the old
    mode.  Also a decorator, with or without parentheses, as torch 2's: ``@no_grad()`` and
    ``@no_grad`` both turn recording off inside the function, each call in a fresh block."""
    mode = True

    def __new__(cls, func=None):
        if func is None:                      # no_grad(): the context manager
            return super().__new__(cls)
        if not callable(func):
            raise TypeError(f"{cls.__name__} takes no argument, or the function it decorates "
                            f"(as @{cls.__name__}); got {type(func).__name__}")
        return cls()(func)                    # @no_grad: the function, wrapped

    def __enter__(self):
        global _grad_enabled
        # a stack, not one slot: the same object may be entered again inside its own block
        self.__dict__.setdefault("previous", []).append(_grad_enabled)
        _grad_enabled = self.mode
        return self

    def __exit__(self, *exception):
        global _grad_enabled
        _grad_enabled = self.previous.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def in_this_mode(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)
        return in_this_mode


class no_grad(_GradMode):
    """``with minitorch.no_grad():`` computes without recording a graph (evaluation, updates).

    Also a decorator: ``@minitorch.no_grad()`` (or ``@minitorch.no_grad``) above a function
    turns recording off inside it.
    """
    mode = False


class enable_grad(_GradMode):
    """``with minitorch.enable_grad():`` records ops again inside a ``no_grad`` block (also a
    decorator, as ``no_grad``)."""
    mode = True


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
            def backward_graph(self, grad_y):  # the same with Tensors, for create_graph=True
                x, = self.inputs
                return grad_y * exp(x)       # ops on Tensors: recorded, differentiable again

    and users call ``Exp()(x)`` on Tensors.  ``self.xp`` is the array module of the inputs'
    device.  ``self.needs_input_grad[i]`` tells backward which gradients are wanted.
    Non-array settings (an axis, a shape) are plain attributes; arrays that backward needs go
    through ``save_for_backward`` so that they are version-checked and freed.  ``backward_graph``
    reads the input Tensors ``self.inputs`` (see the module docstring for why it recomputes
    from them); an op without one raises under ``create_graph=True``, naming itself.

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
            self._input_versions = [t._version_counter[0] for t in tensors]
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

    def constant(self, array):
        """``array`` (a mask, a share, computed from saved arrays) as a Tensor outside the graph:
        what ``backward_graph`` treats as constant.  (NumPy turns 0-d results into scalars.)"""
        return _tensor_module.Tensor(self.xp.asarray(array))

    def check_inputs_unchanged(self):
        """Raise unless every input is as forward saw it (``backward_graph`` recomputes from
        the inputs, so an in-place change since forward would make its gradient wrong)."""
        for i, (t, version) in enumerate(zip(self.inputs, self._input_versions)):
            if t._version_counter[0] != version:
                raise RuntimeError(
                    f"one of the tensors needed for gradient computation has been modified by an "
                    f"inplace operation: input {i} (shape {tuple(t.shape)}) of "
                    f"{type(self).__name__} is at version {t._version_counter[0]}; expected "
                    f"version {version} (create_graph=True recomputes the derivative from the "
                    f"inputs). Change it out of place (y = y + 1) instead.")

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

    def backward_graph(self, *grad_outputs):
        """``backward`` on Tensors, written with differentiable ops (for ``create_graph=True``)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no backward_graph yet: its gradient cannot be "
            "differentiated again (create_graph=True, or autograd.grad(..., create_graph=True), "
            f"through {type(self).__name__} is not supported)")

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


# ---- the backward pass ----------------------------------------------------------------------------
def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Add d(tensors)/d(leaf) · grad_tensors into ``leaf.grad`` for every leaf that requires grad.

    ``tensors`` is one tensor (the loss) or several, ``grad_tensors`` their upstream gradients
    dL/d(tensor); one may be left out only for a tensor with one element (then it is 1).  With
    ``inputs`` (tensors, leaves or not) only their ``.grad`` is added to.  With
    ``create_graph=True`` the gradients are Tensors in a graph, and a ``.grad`` that exists
    becomes ``.grad + gradient`` out of place, so that graph is kept.  ``torch.autograd.backward``'s
    arguments; ``Tensor.backward`` calls it.
    """
    roots, root_grads = _roots(tensors, grad_tensors, create_graph, "backward")
    if inputs is None:
        _run_backward(roots, root_grads, retain_graph, create_graph)
        return
    inputs = _differentiated(inputs, "backward")
    for t, g in zip(inputs, _run_backward(roots, root_grads, retain_graph, create_graph, inputs)):
        if g is not None:
            _accumulate(t, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of ``outputs`` (weighted by ``grad_outputs``) with respect to each of
    ``inputs``, returned as a tuple instead of added into ``.grad``, as ``torch.autograd.grad``.

    ``.grad`` of every tensor stays as it was.  An input the outputs do not depend on is an
    error, or gets None with ``allow_unused=True``.  With ``create_graph=True`` the gradients
    are Tensors in a graph, so they can be differentiated again.
    """
    roots, root_grads = _roots(outputs, grad_outputs, create_graph, "grad")
    inputs = _differentiated(inputs, "grad")
    gradients = _run_backward(roots, root_grads, retain_graph, create_graph, inputs)
    for i, g in enumerate(gradients):
        if g is None and not allow_unused:
            raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have been "
                               "used in the graph. Set allow_unused=True if this is the desired "
                               "behavior.")
    # A first-order gradient is an array that may be a view of the graph's arrays: copy it
    # (xp.array copies; it also turns the NumPy scalar of a 0-d sum back into an array).
    return tuple(g if g is None or create_graph else
                 _tensor_module.Tensor(t.xp.array(g, dtype=t.dtype))
                 for t, g in zip(inputs, gradients))


def _roots(tensors, grads, create_graph, caller):
    """The tensors a backward starts from, and their upstream gradients checked against them
    (arrays; Tensors under ``create_graph``, where the given tensor itself is kept: a
    gradient can be differentiated with respect to its upstream gradient too)."""
    Tensor = _tensor_module.Tensor
    single = isinstance(tensors, Tensor)
    tensors = [tensors] if single else list(tensors)
    grads = [None] * len(tensors) if grads is None else (
        [grads] if single or isinstance(grads, Tensor) else list(grads))
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors and {len(grads)} gradients")
    checked = []
    for i, (t, g) in enumerate(zip(tensors, grads)):
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
        if g is None:
            if t.array.size != 1:
                needs = "backward(gradient)" if caller == "backward" else "grad_outputs"
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs: {caller}() of a "
                    f"tensor of shape {tuple(t.shape)} needs {needs} with a tensor of that shape")
            ones = t.xp.ones_like(t.array)
            checked.append(Tensor(ones) if create_graph else ones)
            continue
        given = g if isinstance(g, Tensor) else Tensor(t.xp.asarray(g))
        if given.shape != t.shape:
            raise RuntimeError(
                f"backward: gradient has shape {tuple(given.shape)}, but the tensor has shape "
                f"{tuple(t.shape)}" if caller == "backward" else
                f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(given.shape)} and "
                f"output[{i}] has a shape of {tuple(t.shape)}")
        if create_graph:
            checked.append(given if given.dtype == t.dtype else given.to(t.dtype))
        else:
            checked.append(given.array.astype(t.dtype, copy=False))
    return tensors, checked


def _differentiated(inputs, caller):
    """``inputs`` of grad() or backward() as a list, each one checked to require grad."""
    inputs = [inputs] if isinstance(inputs, _tensor_module.Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError(f"`inputs` argument to `{caller}()` cannot be empty.")
    if not all(t.requires_grad for t in inputs):
        raise RuntimeError("One of the differentiated Tensors does not require grad")
    return inputs


def _run_backward(roots, root_grads, retain_graph, create_graph, inputs=None):
    """The one engine loop behind ``backward`` and ``grad``.

    Without ``inputs`` it adds the gradients into every leaf's ``.grad`` (and into the ``.grad``
    of non-leaves that asked with ``retain_grad``).  With ``inputs`` it returns their gradients
    instead (a list; None for an input the roots do not depend on), runs only the Functions that
    lead to them, and asks each for only those gradients (``needs_input_grad``).  Gradients are
    arrays, or Tensors under ``create_graph``: the mode decides which backward is called and how
    gradients add up (NumPy's + or the Add op), nothing else.
    """
    if retain_graph is None:
        retain_graph = create_graph
    found = None if inputs is None else {id(t): None for t in inputs}   # id → gradient so far
    starts = [t.grad_fn for t in roots if t.grad_fn is not None]
    needed = None if inputs is None else _functions_leading_to(starts, found)

    # 1. Count, for every Function to run, how many uses of its outputs lie above it.
    uses = {node: 0 for node in starts if needed is None or node in needed}
    stack = list(uses)
    while stack:
        node = stack.pop()
        if node._released:
            node.saved_tensors  # raises the "backward through the graph a second time" error
        for t in node.inputs:
            parent = t.grad_fn
            if parent is not None and (needed is None or parent in needed):
                if parent not in uses:
                    uses[parent] = 0
                    stack.append(parent)
                uses[parent] += 1

    # 2. Gradients arrive at tensors; a Function runs once all uses of its outputs have
    #    delivered theirs (Kahn's algorithm).
    pending, retained = {}, {}

    def deliver(t, g):
        """Gradient ``g`` reaches tensor ``t`` from one of its uses (or as a root's own)."""
        if found is not None and id(t) in found:
            found[id(t)] = g if found[id(t)] is None else found[id(t)] + g
        parent = t.grad_fn
        if parent is None:
            if found is None:
                _accumulate(t, g, create_graph)
            return
        if parent not in uses:  # it leads to none of the inputs grad() asked for
            return
        slots = pending.setdefault(parent, [None] * len(parent.output_shapes))
        i = t._output_index
        slots[i] = g if slots[i] is None else slots[i] + g
        if t._retains_grad:
            retained.setdefault(parent, {})[id(t)] = t

    with set_grad_enabled(create_graph):  # record the ops of backward_graph; nothing else
        for t, g in zip(roots, root_grads):
            deliver(t, g)
        ready = [node for node, count in uses.items() if count == 0]
        while ready:
            node = ready.pop()
            grads_out = pending.pop(node, [None] * len(node.output_shapes))
            for t in retained.pop(node, {}).values():
                _accumulate(t, grads_out[t._output_index], create_graph)
            needs = None if needed is None else tuple(
                t.requires_grad and (id(t) in found or t.grad_fn in uses) for t in node.inputs)
            grads_in = _call_backward(node, grads_out, create_graph, needs)
            for t, g in zip(node.inputs, grads_in):
                if g is not None and t.requires_grad:
                    deliver(t, _checked(node, t, g, create_graph))
            for t in node.inputs:
                parent = t.grad_fn
                if parent in uses:
                    uses[parent] -= 1
                    if uses[parent] == 0:
                        ready.append(parent)
            if not retain_graph:
                node.release()
    return None if inputs is None else [found[id(t)] for t in inputs]


def _functions_leading_to(starts, wanted):
    """The Functions below ``starts`` with a path down to a tensor in ``wanted`` (by id): the
    only ones ``grad`` runs.  A Function is decided after every Function below it, in a
    depth-first walk with an explicit stack (a loop, like backward's)."""
    leading, seen = set(), set()
    stack = [(node, False) for node in starts]
    while stack:
        node, below_decided = stack.pop()
        if below_decided:
            if any(id(t) in wanted or t.grad_fn in leading for t in node.inputs):
                leading.add(node)
        elif node not in seen:
            if node._released:
                node.saved_tensors  # raises the "backward through the graph a second time" error
            seen.add(node)
            stack.append((node, True))
            stack.extend((t.grad_fn, False) for t in node.inputs if t.grad_fn is not None)
    return leading


def _call_backward(node, grads_out, create_graph, needs=None):
    """``node.backward`` on arrays, or ``node.backward_graph`` on Tensors under create_graph;
    its gradients as a tuple, one per input.  ``needs``, when given, stands in for
    ``node.needs_input_grad`` during the call."""
    all_needs = node.needs_input_grad
    if needs is not None:
        node.needs_input_grad = needs
    # An output that received no gradient contributes zero.
    grads_out = [g if g is not None else node.output_xp.zeros(shape, dtype)
                 for g, (shape, dtype) in zip(grads_out, node.output_shapes)]
    try:
        if create_graph:
            node.check_inputs_unchanged()
            Tensor = _tensor_module.Tensor
            grads_in = node.backward_graph(*[g if isinstance(g, Tensor) else Tensor(g)
                                             for g in grads_out])
        else:
            grads_in = node.backward(*grads_out)
    finally:
        node.needs_input_grad = all_needs
    if not isinstance(grads_in, tuple):
        grads_in = (grads_in,)
    if len(grads_in) != len(node.inputs):
        raise RuntimeError(f"{type(node).__name__}.backward returned {len(grads_in)} "
                           f"gradients for {len(node.inputs)} inputs")
    return grads_in


def _checked(node, t, g, create_graph):
    """The gradient ``g`` that ``node`` returned for its input ``t``, checked, in ``t``'s dtype."""
    if create_graph and not isinstance(g, _tensor_module.Tensor):
        raise TypeError(f"{type(node).__name__}.backward_graph returned a "
                        f"{type(g).__name__}, not a Tensor: under create_graph a gradient must "
                        "be computed with ops on Tensors to be differentiable again")
    if not create_graph and not isinstance(g, node.xp.ndarray):  # a NumPy scalar (0-d math)
        g = node.xp.asarray(g, dtype=t.dtype)
    if g.shape != t.array.shape:
        raise RuntimeError(f"{type(node).__name__}.backward returned a gradient of shape "
                           f"{tuple(g.shape)} for an input of shape {tuple(t.shape)}")
    # A gradient has its tensor's dtype (as in PyTorch's engine): a float32 network stays
    # float32 even where a backward's arithmetic drifted to float64.
    if create_graph:
        return g if g.dtype == t.dtype else g.to(t.dtype)
    return g.astype(t.dtype, copy=False)


def _accumulate(t, grad, create_graph=False):
    """t.grad += grad (a leaf's gradients add up across backward calls until zero_grad).

    Under create_graph the sum is an op, out of place, so that ``t.grad`` stays in the graph
    (and the first gradient is cloned: ``t.grad`` must not be a tensor the graph still uses).
    """
    if create_graph:
        t.grad = grad.clone() if t.grad is None else t.grad + grad
        return
    if not backend.is_array(grad):  # a NumPy scalar, from a sum of 0-d arrays
        grad = t.xp.asarray(grad)
    grad = grad.astype(t.dtype, copy=False)
    if t.grad is None:
        # Own the memory: grad may be a view of an array that the graph still uses.
        t.grad = _tensor_module.Tensor(grad.copy())
    else:
        t.grad.array += grad
