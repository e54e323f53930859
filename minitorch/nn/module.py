"""``Parameter`` and ``Module``: how layers hold their weights.  Read first in ``nn/``.

A Module is an object whose attributes may be Parameters (tensors to train), buffers (tensors
to keep but not train, such as BatchNorm's running mean) and other Modules.  Assigning one of
those to ``self.something`` registers it, so that the whole tree of modules can be walked:
``parameters()`` for the optimizer, ``state_dict()`` to save, ``train()``/``eval()`` to switch
modes (``with eval_mode(model):`` for one block), ``to(device)`` to move.  Names are dotted paths through the tree (``'0.conv.weight'``),
exactly as PyTorch names them, so a PyTorch ``state_dict`` loads into the same architecture.

Calling a module runs ``forward`` between its forward pre-hooks and forward hooks; hooks are how
fastai's U-Net and feature loss read the activations of a model they did not write.
"""
import collections
import contextlib
import itertools

import numpy  # only to read checkpoint values that are Python numbers or lists

from minitorch import backend
from minitorch.autograd import no_grad
from minitorch.tensor import Tensor


class Parameter(Tensor):
    """A tensor that a Module trains: it requires grad, and assigning it to a module registers it."""

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """Returned by ``register_forward_hook``; ``handle.remove()`` takes the hook away."""

    _ids = itertools.count()

    def __init__(self, hooks):
        self.hooks, self.id = hooks, next(self._ids)

    def remove(self):
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _as_host_array(value):
    """A checkpoint value (minitorch Tensor, torch tensor, NumPy/CuPy array, number) as an array."""
    if isinstance(value, Tensor):
        array = value.array
    elif hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        array = value.detach().cpu().numpy()
    elif backend.is_array(value):
        array = value
    else:
        array = numpy.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"expected numbers, got {type(value).__name__} of dtype {array.dtype}")
    return array


class Module:
    """Base class of every layer and model.  Subclasses set attributes in ``__init__`` (after
    ``super().__init__()``) and define ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", collections.OrderedDict())
        object.__setattr__(self, "_buffers", collections.OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", collections.OrderedDict())
        object.__setattr__(self, "_forward_hooks", collections.OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", collections.OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registering what a module holds ---------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attributes (while setting {name!r})")
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = value
        elif name in self._buffers and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        elif name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(a Parameter or None expected)")
            self._parameters[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the three registries.
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, got "
                            f"{type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Keep ``tensor`` with the module (moved by ``to``, saved by ``state_dict`` when
        persistent) without training it."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): {type(module).__name__} is not a Module")
        self._modules[name] = module

    register_module = add_module

    # ---- walking the tree -------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, table, recurse=True):
        seen = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        for name, p in self._named_members("_parameters", recurse):
            yield (f"{prefix}.{name}" if prefix else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        for name, b in self._named_members("_buffers", recurse):
            yield (f"{prefix}.{name}" if prefix else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule, children first, then on this one."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and devices ------------------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (dropout drops, batchnorm uses batch statistics); returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.array[...] = 0

    def _apply_to_tensors(self, convert):
        """Replace the array of every parameter and buffer by ``convert(array)``, in place, so
        that an optimizer holding these Parameters keeps working."""
        for module in self.modules():
            for table in (module._parameters, module._buffers):
                for t in table.values():
                    if t is None:
                        continue
                    t.array = convert(t.array)
                    if t.grad is not None:
                        t.grad.array = convert(t.grad.array)

    def to(self, *args, device=None, dtype=None, non_blocking=False):
        """Move (``'cuda'``, ``'cpu'`` or a ``minitorch.device``) and/or cast (a float dtype)
        every parameter and buffer, in place; returns the module.  ``model.to(tensor)`` takes
        the tensor's device and dtype."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str):
                device = a
            else:
                dtype = a
        if device is not None:
            device = backend.canonical_device(device)
            self._apply_to_tensors(lambda a: backend.to_device(a, device))
        if dtype is not None:
            self._apply_to_tensors(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else backend.device(
            device if isinstance(device, str) else f"cuda:{device}"))

    def double(self):
        return self.to(dtype="float64")

    def float(self):
        return self.to(dtype="float32")

    def half(self):
        return self.to(dtype="float16")

    # ---- running ----------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward method")

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after every forward; it may return a new output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before every forward; it may return new inputs."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    # ---- saving and loading -----------------------------------------------------------------------
    def state_dict(self, prefix=""):
        """Every parameter and persistent buffer by its dotted name, as PyTorch names them."""
        state = collections.OrderedDict()
        for name, module in self.named_modules(prefix=prefix.rstrip(".")):
            for key, p in module._parameters.items():
                if p is not None:
                    state[f"{name}.{key}" if name else key] = p.detach()
            for key, b in module._buffers.items():
                if b is not None and key not in module._non_persistent:
                    state[f"{name}.{key}" if name else key] = b.detach()
        return state

    def check_state_dict(self, state_dict, strict=True):
        """Raise the error ``load_state_dict`` would raise, changing nothing; otherwise return
        ``(arrays, missing_keys, unexpected_keys)``: the values as host arrays, ready to copy.

        Missing keys, unexpected keys (with ``strict``), values that are not arrays and shapes
        that do not fit are all listed together in one RuntimeError.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        # Turn every value into an array first: a value that is not numeric fails here,
        # before anything in the model has changed.
        arrays, mismatched = {}, []
        for key, target in own.items():
            if key not in state_dict:
                continue
            try:
                arrays[key] = _as_host_array(state_dict[key])
            except (TypeError, ValueError) as error:
                mismatched.append(f"{key}: cannot be read as an array ({error})")
                continue
            shape = tuple(arrays[key].shape)
            if shape != tuple(target.shape):
                mismatched.append(f"{key}: checkpoint has shape {shape}, the model "
                                  f"{tuple(target.shape)}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  " +
                               "\n  ".join(problems))
        return arrays, missing, unexpected

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays or tensors keyed as ``state_dict()`` keys them into this module.

        Every problem is found before anything is copied (:meth:`check_state_dict`), so a bad
        file changes nothing.  Returns (missing_keys, unexpected_keys) as PyTorch does.
        """
        arrays, missing, unexpected = self.check_state_dict(state_dict, strict)
        own = self.state_dict()
        with no_grad():
            for key, array in arrays.items():
                target = own[key]
                target.array[...] = backend.to_device(array, target.device).astype(
                    target.dtype, copy=False)
                target._version_counter[0] += 1
        return collections.namedtuple("IncompatibleKeys", "missing_keys unexpected_keys")(
            missing, unexpected)

    # ---- printing ---------------------------------------------------------------------------------
    def extra_repr(self):
        """The arguments shown between the parentheses of this module's repr."""
        return ""

    def __repr__(self):
        # PyTorch's layout: "Name(extra)" on one line when there are no children; otherwise the
        # extra_repr lines and then one "(name): child" line per child, indented by two spaces.
        extra_lines = self.extra_repr().split("\n") if self.extra_repr() else []
        child_lines = [f"({name}): " + repr(child).replace("\n", "\n  ")
                       for name, child in self._modules.items()]
        lines = extra_lines + child_lines
        head = f"{type(self).__name__}("
        if not lines:
            return head + ")"
        if len(extra_lines) == 1 and not child_lines:
            return head + extra_lines[0] + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


@contextlib.contextmanager
def eval_mode(model):
    """``with eval_mode(model):`` every module of ``model`` in evaluation mode inside the block
    (dropout off, batchnorm on its running statistics); after it — also when the block raises —
    each module back in the mode *it* had, so a model whose parts were in mixed modes (a GAN
    whose critic is in eval mode while the generator trains) comes back exactly as it was.
    ``model.train(was_training)`` would give every module the top module's mode instead.

    For predicting in the middle of training: ``Learner.validate``, ``get_preds`` and
    ``pred_batch``, the model summary, a GAN's samples.  Yields ``model``."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            object.__setattr__(module, "training", training)
