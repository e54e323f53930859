"""Hooks: reading what a network computes inside, without changing the network (fastai v1's
``callbacks/hooks.py``).  Read after ``module.py`` (``register_forward_hook``) and before
``learner/summary.py``, which builds ``learn.summary()`` from them.

A forward hook is a function ``hook(module, inputs, output)`` that ``Module.__call__`` runs after
every forward of that module.  Many tools need one on several layers at once: the summary table
records each layer's output shape, a feature loss (the super-resolution lesson) compares the
activations of a few VGG layers, the U-Net keeps the encoder's outputs for its cross
connections.  This file gives them one shape:

* ``Hook(m, hook_func)`` registers ``hook_func`` on ``m`` and keeps what it returned, after each
  forward, in ``hook.stored``.  ``hook_output(m)`` is the common case: ``stored`` is the output.
* ``Hooks(modules, hook_func)`` is one ``Hook`` per module; ``hooks.stored`` lists them.
* ``detach=True`` (the default) hands the hook function detached tensors, so storing an
  activation does not keep its whole graph alive; ``detach=False`` keeps the graph, so a loss
  computed from ``stored`` sends gradients back into the network (the feature loss needs this).
* A hook is removed by ``remove()``, at the end of a ``with`` block, or when the ``Hook`` is
  garbage-collected, so a forgotten hook cannot go on firing (and holding activations) forever::

      with hook_outputs([body[2], body[4]]) as hooks:
          model(xb)
          acts = hooks.stored          # the two layers' outputs
      # the hooks are gone here

**Gradient hooks** (``is_forward=False``, or ``hook_output(m, grad=True)``).  minitorch's
modules have no backward hooks of their own; a gradient hook is built from the forward pass
instead: after each forward, the output goes through ``GradTap``, an identity op whose backward
hands the gradient of the output to the hook before passing it on unchanged.  The hook is called
as ``hook_func(module, None, (grad_output,))``: the gradient with respect to the module's inputs
is not available (fastai's hooks only use the output's).

Finally, helpers that push a dummy batch through a model to learn its shapes (the U-Net builds
its decoder from them): ``dummy_batch``, ``dummy_eval``, ``model_sizes``,
``num_features_model``.
"""
import weakref

from minitorch.tensor import Tensor, empty
from minitorch.autograd import Function, is_grad_enabled, no_grad


def flatten_model(model):
    """The leaf layers of ``model`` (modules without children), in the order the module tree
    lists them; a module that holds parameters of its own besides its children (SelfAttention's
    ``gamma``) comes before its children, so every parameter belongs to one entry."""
    children = list(model.children())
    if not children:
        return [model]
    own = [model] if any(True for _ in model.parameters(recurse=False)) else []
    return own + [leaf for child in children for leaf in flatten_model(child)]


def layer_parameters(layer):
    """``(name, parameter)`` pairs of one entry of ``flatten_model``: all of a leaf's, only the
    direct ones of a module that also has children (those are listed on their own)."""
    has_children = any(True for _ in layer.children())
    return list(layer.named_parameters(recurse=not has_children))


def _is_listy(x):
    return isinstance(x, (list, tuple))


def _detach(x):
    """``x`` detached (each element of a list or tuple; anything not a Tensor as it is)."""
    if _is_listy(x):
        return type(x)(_detach(o) for o in x)
    return x.detach() if isinstance(x, Tensor) else x


class GradTap(Function):
    """The identity, ``y = x``, whose backward first shows ``dL/dy`` to a callback.

    forward:  y = x                   backward:  dL/dx = dL/dy   (and calls ``callback(dL/dy)``)

    The callback gets the gradient as a Tensor (without a graph); it must not change it.
    """

    is_view = True  # the output is the input's array itself (no copy, same memory layout)

    def __init__(self, callback):
        self.callback = callback

    def forward(self, x):
        return x

    def backward(self, grad_y):
        self.callback(Tensor(grad_y))
        return grad_y

    def backward_graph(self, grad_y):  # under create_graph: the callback sees it detached
        self.callback(grad_y.detach())
        return grad_y


def _call_weakly(hook, method):
    """A forward hook that calls ``hook.<method>`` while ``hook`` is alive."""
    ref = weakref.ref(hook)

    def call(module, inputs, output):
        alive = ref()
        return None if alive is None else getattr(alive, method)(module, inputs, output)
    return call


class Hook:
    """Registers ``hook_func`` on ``m``; after each forward (``is_forward=True``) or backward
    (``is_forward=False``, see the module docstring) ``self.stored`` is what it returned.

    ``hook_func(module, inputs, output)`` gets detached tensors unless ``detach=False``.
    """

    def __init__(self, m, hook_func, is_forward=True, detach=True):
        self.hook_func, self.detach, self.is_forward = hook_func, detach, is_forward
        self.stored, self.removed = None, False
        # The module holds only a weak reference to this Hook, so a Hook nobody keeps is
        # collected, and its __del__ takes the hook off the module.
        self.hook = m.register_forward_hook(
            _call_weakly(self, "hook_fn" if is_forward else "_tap_output"))

    def hook_fn(self, module, inputs, output):
        """Apply ``hook_func`` to ``module``, ``inputs``, ``output`` (detached if asked) and store
        the result."""
        if self.detach:
            inputs, output = _detach(inputs), _detach(output)
        self.stored = self.hook_func(module, inputs, output)

    def _tap_output(self, module, inputs, output):
        """The forward hook of a gradient hook: route ``output`` through a ``GradTap`` that calls
        ``hook_fn(module, None, (grad_output,))`` during backward."""
        if not (is_grad_enabled() and isinstance(output, Tensor) and output.requires_grad):
            return None  # no backward will come through here
        return GradTap(lambda grad: self.hook_fn(module, None, (grad,)))(output)

    def remove(self):
        """Take the hook off the module (again is harmless)."""
        if not self.removed:
            self.hook.remove()
            self.removed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def __del__(self):
        if hasattr(self, "hook"):  # not when __init__ failed before registering
            self.remove()


class Hooks:
    """One ``Hook`` per module of ``ms``, all with ``hook_func``; ``stored`` lists their results.
    Indexable and iterable like a list of ``Hook``."""

    def __init__(self, ms, hook_func, is_forward=True, detach=True):
        self.hooks = [Hook(m, hook_func, is_forward, detach) for m in ms]

    def __getitem__(self, i):
        return self.hooks[i]

    def __len__(self):
        return len(self.hooks)

    def __iter__(self):
        return iter(self.hooks)

    @property
    def stored(self):
        return [h.stored for h in self.hooks]

    def remove(self):
        """Take every hook off its module."""
        for h in self.hooks:
            h.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def __del__(self):
        for h in getattr(self, "hooks", ()):
            h.remove()


def _hook_inner(module, inputs, output):
    """Store the output (a Tensor, or a list of them)."""
    return output if isinstance(output, Tensor) or _is_listy(output) else list(output)


def hook_output(module, detach=True, grad=False):
    """A ``Hook`` whose ``stored`` is ``module``'s output (its gradient with ``grad=True``)."""
    return Hook(module, _hook_inner, detach=detach, is_forward=not grad)


def hook_outputs(modules, detach=True, grad=False):
    """``Hooks`` whose ``stored`` are the outputs of ``modules`` (their gradients with
    ``grad=True``)."""
    return Hooks(modules, _hook_inner, detach=detach, is_forward=not grad)


# ---- pushing a dummy batch through a model -----------------------------------------------------
def in_channels(m):
    """The number of input channels ``m`` expects: the second dimension of the weight of its
    first layer with a 4-d weight (a convolution)."""
    for layer in flatten_model(m):
        weight = getattr(layer, "weight", None)
        if weight is not None and weight.ndim == 4:
            return weight.shape[1]
    raise ValueError(f"in_channels: {type(m).__name__} has no layer with a 4-d (convolution) "
                     "weight, so the number of input channels is unknown")


def _one_param(m):
    for p in m.parameters():
        return p
    raise ValueError(f"{type(m).__name__} has no parameters: cannot tell its dtype and device")


def dummy_batch(m, size=(64, 64)):
    """A batch of one image of ``size`` (height, width) with ``in_channels(m)`` channels, uniform
    in [-1, 1), of ``m``'s dtype and device (it draws from the random generator, as fastai's)."""
    p = _one_param(m)
    return empty(1, in_channels(m), *size, dtype=p.dtype, device=p.device).uniform_(-1., 1.)


def dummy_eval(m, size=(64, 64)):
    """``m``'s output on ``dummy_batch(m, size)``, in eval mode (``m`` is left in eval mode, as
    fastai leaves it), without a graph."""
    with no_grad():
        return m.eval()(dummy_batch(m, size))


def model_sizes(m, size=(64, 64)):
    """The output shape of each child of ``m`` on a dummy batch of ``size``: what a U-Net reads to
    know where its encoder halves the resolution."""
    with hook_outputs(list(m.children())) as hooks:
        dummy_eval(m, size)
        return [tuple(h.stored.shape) for h in hooks]


def num_features_model(m):
    """The number of channels ``m`` outputs (the size of dimension 1 of its last child's output),
    trying larger dummy images when a small one is too small for the model."""
    size = 64
    while True:
        try:
            return model_sizes(m, size=(size, size))[-1][1]
        except Exception:
            size *= 2
            if size > 2048:
                raise
