"""``learn.summary()``: what each layer outputs and how many parameters it has, in fastai v1's
table.  Read after ``nn/module.py`` (forward hooks).

The table is built by running one batch through the model with a forward hook on every *leaf*
layer (a module without children: Conv2d, BatchNorm2d, ReLU, ...): each hook records the shape
of its layer's output.  Parameters are counted per leaf.  A module that holds parameters of its
own besides its children (SelfAttention's ``gamma``) gets a row too, so the totals are always
the model's true parameter count.
"""
from minitorch.autograd import no_grad


def flatten_model(model):
    """The leaf layers of ``model``, in the order the module tree lists them."""
    children = list(model.children())
    if not children:
        return [model]
    own = [model] if any(True for _ in model.parameters(recurse=False)) else []
    return own + [leaf for child in children for leaf in flatten_model(child)]


def layer_parameters(layer):
    """``(name, parameter)`` pairs of one entry of ``flatten_model``: all of a leaf's, only the
    direct ones of a module that also has children (those are listed on their own)."""
    has_children = any(True for _ in layer.children())
    return list(layer.named_parameters(recurse=not has_children))


def layers_info(model, xb):
    """One row per leaf layer: (type name, output shape or None if not called, parameter count,
    trainable).  Runs ``model`` on ``xb`` in eval mode without gradients, then restores the mode."""
    layers = flatten_model(model)
    shapes = {}

    def record(module, inputs, output):
        shapes[id(module)] = tuple(output.shape) if hasattr(output, "shape") else None

    handles = [layer.register_forward_hook(record) for layer in layers]
    was_training = model.training
    try:
        with no_grad():
            model.eval()(xb)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    rows = []
    for layer in layers:
        params = [p for _, p in layer_parameters(layer)]
        count = sum(p.numel() for p in params)
        trainable = any(p.requires_grad for p in params)
        rows.append((type(layer).__name__, shapes.get(id(layer)), count, trainable))
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
