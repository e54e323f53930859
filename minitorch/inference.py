"""``inference_mode``: PyTorch's ``no_grad`` for code that only evaluates.

Read after ``autograd.py``.

In PyTorch, ``with torch.inference_mode():`` is a stricter, faster ``no_grad``: tensors made
inside it are marked as never to enter a graph, which saves bookkeeping.  minitorch keeps no
such bookkeeping, so inference mode here *is* ``no_grad``: nothing inside is recorded for
backward.  (The difference you would meet in torch: using a tensor made in inference mode in a
graph afterwards is an error there; here it is an ordinary tensor that does not require grad.)

Like ``no_grad`` it is a context manager and a decorator::

    with minitorch.inference_mode():
        predictions = model(x)

    @minitorch.inference_mode()        # or @minitorch.inference_mode, without the call
    def evaluate(model, x): ...

``inference_mode(False)`` turns inference mode off inside the block and records again (as
``enable_grad``), which is what torch does.
"""
import functools

from minitorch.autograd import enable_grad, no_grad

_depth = 0  # how many inference_mode(True) blocks are open


def is_inference_mode_enabled():
    """Whether code runs inside ``inference_mode()`` (and therefore records no graph)."""
    return _depth > 0


class inference_mode:
    """``with inference_mode():`` / ``@inference_mode()``: evaluate without recording a graph."""

    def __new__(cls, mode=True):
        if callable(mode):  # @inference_mode without the call: decorate the function now
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        if not isinstance(mode, bool):
            raise TypeError(f"inference_mode: mode must be a bool, got {type(mode).__name__}")
        self.mode = mode
        self._blocks = []

    def __enter__(self):
        global _depth
        block = no_grad() if self.mode else enable_grad()
        block.__enter__()
        self._blocks.append((block, _depth))  # a stack: the object may be entered again, nested
        _depth = _depth + 1 if self.mode else 0
        return self

    def __exit__(self, *exception):
        global _depth
        block, _depth = self._blocks.pop()
        block.__exit__(*exception)
        return False

    def __call__(self, function):
        @functools.wraps(function)
        def run_in_inference_mode(*args, **kwargs):
            with inference_mode(self.mode):
                return function(*args, **kwargs)
        return run_in_inference_mode
