"""The final activation of a loss function: what turns a model's raw outputs into predictions
(fastai v1's ``loss_func2activ``).  Read after ``nn/loss.py``; ``learner.py`` uses it in
``get_preds``, ``pred_batch`` and ``predict``.

A classifier trained with cross-entropy outputs *logits*: the loss applies the softmax itself
(that is more accurate than a softmax layer followed by a log).  So the model's outputs are not
probabilities, and ``get_preds`` must apply the softmax the loss applied.  Which activation that
is depends on the loss, and is written out in one table, ``LOSS_ACTIVATIONS``, by the loss's
name (the function's ``__name__`` or the loss module's class name):

=============================================  ===========================================
loss                                           activation of the model's output
=============================================  ===========================================
``cross_entropy``, ``CrossEntropyLoss``        softmax over the last dimension
``nll_loss``, ``NLLLoss``                      exp (the model outputs log-probabilities)
``binary_cross_entropy_with_logits``,          sigmoid
``BCEWithLogitsLoss``
``binary_cross_entropy``, ``BCELoss``          none (the model outputs probabilities)
``mse_loss``, ``l1_loss``, ``smooth_l1_loss``  none (a regression: outputs are predictions)
and their modules
=============================================  ===========================================

A loss the table does not know gets no activation, as in fastai.  A loss can declare its own
with an ``activ`` attribute (a function of the output; ``None`` for none): ``CrossEntropyFlat``
(the language model's loss) does, and so can any function (``my_loss.activ = lambda x: x.sigmoid()``).
A ``functools.partial`` of a loss has the activation of the function it wraps.
"""
import functools


def softmax_last(x):
    """Softmax over the last dimension (the classes)."""
    return x.softmax(-1)


def sigmoid(x):
    return x.sigmoid()


def exp(x):
    return x.exp()


def identity(x):
    return x


LOSS_ACTIVATIONS = {
    "cross_entropy": softmax_last, "CrossEntropyLoss": softmax_last,
    "nll_loss": exp, "NLLLoss": exp,
    "binary_cross_entropy_with_logits": sigmoid, "BCEWithLogitsLoss": sigmoid,
    "binary_cross_entropy": identity, "BCELoss": identity,
    "mse_loss": identity, "MSELoss": identity,
    "l1_loss": identity, "L1Loss": identity,
    "smooth_l1_loss": identity, "SmoothL1Loss": identity,
}


def loss_func2activ(loss_func):
    """The activation for ``loss_func``'s model outputs: its own ``activ`` attribute if it
    declares one, else the table's entry for its name, else the identity."""
    while True:
        if hasattr(loss_func, "activ"):
            return loss_func.activ if loss_func.activ is not None else identity
        if not isinstance(loss_func, functools.partial):
            break
        loss_func = loss_func.func
    name = getattr(loss_func, "__name__", type(loss_func).__name__)
    return LOSS_ACTIVATIONS.get(name, identity)
