"""``learn.summary()``: what each layer outputs and how many parameters it has, in fastai v1's
table.  Read after ``nn/hooks.py``.

The table is built by running one batch through the model with ``hook_outputs`` on every *leaf*
layer (a module without children: Conv2d, BatchNorm2d, ReLU, ...): each hook keeps its layer's
output, and we read its shape.  Parameters are counted per leaf.  A module that holds parameters
of its own besides its children (SelfAttention's ``gamma``) gets a row too, so the totals are
always the model's true parameter count.
"""
from minitorch.autograd import no_grad
from minitorch.nn.hooks import flatten_model, hook_outputs, layer_parameters  # noqa: F401
from minitorch.nn.module import eval_mode


def layers_info(model, xb):
    """One row per leaf layer: (type name, output shape or None if not called, parameter count,
    trainable).  Runs ``model`` on ``xb`` in eval mode without gradients, then restores every
    module's mode."""
    layers = flatten_model(model)
    with hook_outputs(layers) as hooks:
        with eval_mode(model), no_grad():
            model(xb)
        outputs = hooks.stored
    rows = []
    for layer, output in zip(layers, outputs):
        shape = tuple(output.shape) if hasattr(output, "shape") else None
        params = [p for _, p in layer_parameters(layer)]
        count = sum(p.numel() for p in params)
        trainable = any(p.requires_grad for p in params)
        rows.append((type(layer).__name__, shape, count, trainable))
    return rows


def model_summary(learn, n=70):
    """The summary text of ``learn``'s model on one training batch (see ``Learner.summary``)."""
    xb = learn.data.one_batch(denorm=False, cpu=False)[0]  # as the model sees it
    rows = layers_info(learn.model, xb)
    lines = [type(learn.model).__name__, "=" * n,
             f"{'Layer (type)':<20} {'Output Shape':<20} {'Param #':<10} {'Trainable':<10}",
             "=" * n]
    total = trainable_total = 0
    for name, shape, count, trainable in rows:
        if shape is None:
            continue  # a layer the forward pass never called: fastai leaves it out
        total += count
        trainable_total += count if trainable else 0
        lines.append(f"{name:<20} {str(list(shape)):<20} {count:<10,} {str(trainable):<10}")
        lines.append("_" * n)
    lines += ["", f"Total params: {total:,}", f"Total trainable params: {trainable_total:,}",
              f"Total non-trainable params: {total - trainable_total:,}"]
    return "\n".join(lines)
