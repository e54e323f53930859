"""Optimizers, as ``torch.optim`` has them.

Read ``optimizer.py`` first (param groups, state, saving, and the ``step()`` loop they all
share), then ``sgd.py``, ``rmsprop.py`` and ``adam.py``: each holds one update rule, written as
math in its docstring and as array code for one parameter in its ``update()``.
"""
from minitorch.optim.optimizer import Optimizer  # noqa: F401
from minitorch.optim.sgd import SGD  # noqa: F401
from minitorch.optim.adam import Adam, AdamW  # noqa: F401
from minitorch.optim.rmsprop import RMSprop  # noqa: F401
