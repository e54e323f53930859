"""fastai v1's training library: the Learner, its callbacks, one-cycle, the lr finder, metrics
and the model summary.

Read in this order: ``callbacks.py`` (events, cancel exceptions, Recorder, the epoch table),
``optimizer.py`` (fastai's optimizer knobs and true weight decay), ``activations.py`` (the
loss function's final activation), ``learner.py`` (the loop), ``nan_stop.py`` (the one read
from the device per batch, and TerminateOnNaN), ``one_cycle.py``, ``lr_finder.py``,
``metrics.py``, ``summary.py``.
"""
from minitorch.learner.activations import LOSS_ACTIVATIONS, loss_func2activ  # noqa: F401
from minitorch.learner.callbacks import (  # noqa: F401
    Callback, CancelBatchException, CancelEpochException, CancelFitException, ProgressCallback,
    Recorder, SmoothenValue)
from minitorch.learner.learner import Learner  # noqa: F401
from minitorch.learner.loss_metrics import LossMetrics  # noqa: F401
from minitorch.learner.lr_finder import LRFinder, lr_find  # noqa: F401
from minitorch.learner.metrics import (  # noqa: F401
    accuracy, accuracy_thresh, accuracy_thresh_expand, error_rate)
from minitorch.learner.nan_stop import TerminateOnNaN  # noqa: F401
from minitorch.learner.one_cycle import (  # noqa: F401
    OneCycleScheduler, Scheduler, annealing_cos, annealing_exp, annealing_linear, fit_one_cycle)
from minitorch.learner.optimizer import OptimWrapper, split_no_wd_params  # noqa: F401
from minitorch.learner.summary import flatten_model, layers_info, model_summary  # noqa: F401
