"""``minitorch.utils.data``: PyTorch's names for datasets and loaders.

Code written for PyTorch imports ``Dataset``, ``TensorDataset`` and ``DataLoader`` from
``torch.utils.data``.  They are the ones of ``minitorch/data/`` (``dataset.py``, ``loader.py``),
which the fastai-style library trains on too; this module only gathers them under PyTorch's
names.  Read those two files for how batches are made.
"""
from minitorch.data.dataset import Dataset, Subset, TensorDataset, random_split  # noqa: F401
from minitorch.data.loader import DataLoader, default_collate  # noqa: F401
