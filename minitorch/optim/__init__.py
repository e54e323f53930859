"""Optimizers, as ``torch.optim`` has them.

Read ``optimizer.py`` first (param groups, state, saving, and the ``step()`` loop they all
share), then ``sgd.py``, ``adagrad.py``, ``rmsprop.py``, ``adadelta.py`` and ``adam.py``: each
holds one update rule, written as math in its docstring and as array code for one parameter in
its ``update()``.
``lr_scheduler.py`` changes the learning rates of an optimizer's groups as training goes on.
"""
from minitorch.optim.optimizer import Optimizer  # noqa: F401
from minitorch.optim.sgd import SGD  # noqa: F401
from minitorch.optim.adam import Adam, AdamW  # noqa: F401
from minitorch.optim.adagrad import Adagrad  # noqa: F401
from minitorch.optim.rmsprop import RMSprop  # noqa: F401
from minitorch.optim.adadelta import Adadelta  # noqa: F401
from minitorch.optim import lr_scheduler  # noqa: F401
