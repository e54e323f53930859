"""fastai v1's training library: the Learner, its callbacks, one-cycle, the lr finder, metrics
and the model summary.

Read in this order: ``callbacks.py`` (events, cancel exceptions, Recorder, the epoch table),
``optimizer.py`` (fastai's optimizer knobs and true weight decay), ``activations.py`` (the
loss function's final activation), ``losses.py`` (fastai's flattened losses), ``learner.py``
(the loop), ``nan_stop.py`` (the one read from the device per batch, and TerminateOnNaN),
``one_cycle.py``, ``lr_finder.py``, ``metrics.py``, ``summary.py``.

``from minitorch.learner import *`` gives the names below (``__all__``), as
``from fastai.callbacks import *`` and fastai's basics do, and the hooks of ``nn/hooks.py``
(``hook_outputs``: fastai's ``callbacks.hooks``).
"""
from minitorch.learner.activations import LOSS_ACTIVATIONS, loss_func2activ
from minitorch.learner.callbacks import (
    Callback, CancelBatchException, CancelEpochException, CancelFitException, LearnerCallback,
    ProgressCallback, Recorder, SmoothenValue)
from minitorch.learner.losses import CrossEntropyFlat, MSELossFlat
from minitorch.learner.learner import Learner
from minitorch.learner.loss_metrics import LossMetrics
from minitorch.learner.lr_finder import LRFinder, lr_find
from minitorch.learner.metrics import (
    accuracy, accuracy_thresh, accuracy_thresh_expand, error_rate)
from minitorch.learner.nan_stop import TerminateOnNaN
from minitorch.learner.one_cycle import (
    OneCycleScheduler, Scheduler, annealing_cos, annealing_exp, annealing_linear, fit_one_cycle)
from minitorch.learner.optimizer import OptimWrapper, split_no_wd_params
from minitorch.learner.summary import flatten_model, layers_info, model_summary
from minitorch.nn.hooks import Hook, Hooks, hook_output, hook_outputs, model_sizes

__all__ = [
    "LOSS_ACTIVATIONS", "loss_func2activ",
    "Callback", "CancelBatchException", "CancelEpochException", "CancelFitException",
    "LearnerCallback", "ProgressCallback", "Recorder", "SmoothenValue", "TerminateOnNaN",
    "CrossEntropyFlat", "MSELossFlat", "Learner", "LossMetrics", "LRFinder", "lr_find",
    "accuracy", "accuracy_thresh", "accuracy_thresh_expand", "error_rate",
    "OneCycleScheduler", "Scheduler", "annealing_cos", "annealing_exp", "annealing_linear",
    "fit_one_cycle", "OptimWrapper", "split_no_wd_params", "flatten_model", "layers_info",
    "model_summary", "Hook", "Hooks", "hook_output", "hook_outputs", "model_sizes"]
