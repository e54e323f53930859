"""Neural-network layers, as ``torch.nn`` has them.  Read ``module.py`` first."""
from minitorch.nn.module import Module, Parameter, RemovableHandle  # noqa: F401
