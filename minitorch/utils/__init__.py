"""``minitorch.utils``: as ``torch.utils``, the home of ``data`` (datasets and loaders)."""
from minitorch.utils import data  # noqa: F401
