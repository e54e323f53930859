"""Neural-network layers, as ``torch.nn`` has them.  Read ``module.py`` first (``Module``,
``Parameter``, and ``eval_mode``: evaluation mode for a block, every module's own mode back after).

Then ``functional.py`` (the math of every layer as a function, ``F``), ``init.py`` (how weights
start), ``containers.py``, and the layer files in the order a network uses them:
``linear.py``, ``conv.py``, ``pooling.py``, ``normalization.py``, ``activation.py``,
``dropout.py``, ``sparse.py``, ``upsampling.py``, ``padding.py``, ``loss.py``, ``rnn.py``;
finally ``utils.py`` (weight norm, spectral norm, gradient clipping) and ``hooks.py`` (reading
activations out of a network: fastai's ``Hook``, ``hook_outputs``, ``model_sizes``).
"""
from minitorch.nn.module import Module, Parameter, RemovableHandle, eval_mode  # noqa: F401
from minitorch.nn import functional, hooks, init, utils  # noqa: F401
from minitorch.nn.activation import (  # noqa: F401
    ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh)
from minitorch.nn.containers import ModuleDict, ModuleList, Sequential  # noqa: F401
from minitorch.nn.conv import Conv2d, ConvTranspose2d  # noqa: F401
from minitorch.nn.dropout import Dropout, Dropout2d  # noqa: F401
from minitorch.nn.linear import Flatten, Identity, Linear  # noqa: F401
from minitorch.nn.loss import (  # noqa: F401
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from minitorch.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm  # noqa: F401
from minitorch.nn.padding import (  # noqa: F401
    CircularPad2d, ReflectionPad2d, ReplicationPad2d, ZeroPad2d)
from minitorch.nn.pooling import (  # noqa: F401
    AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d)
from minitorch.nn.rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell  # noqa: F401
from minitorch.nn.sparse import Embedding  # noqa: F401
from minitorch.nn.upsampling import PixelShuffle, Upsample  # noqa: F401
