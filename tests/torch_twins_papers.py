"""He et al.'s CIFAR nets (6n + 2 layers, plain and residual, option-A shortcuts) and their
training recipe written in plain PyTorch: the references that ``tests/test_cifar_resnet.py``
holds ``minitorch/vision/models/cifar_resnet.py`` to, and that
``benchmarks/he2015_in_torch.py`` trains.  Read after ``minitorch/vision/models/cifar_resnet.py``.

* ``TorchCifarResNet(n, widths, residual, in_channels, num_classes)`` — the same layers, the same
  state-dict names (``conv1.weight``, ``layer2.0.bn1.running_mean``, ``fc.bias``, ...), so
  ``torch_model.load_state_dict({k: torch.from_numpy(v) ...})`` takes minitorch's weights;
* ``sgd_step_decay_torch`` — section 4.2's recipe in a plain loop: ``torch.optim.SGD`` with
  momentum 0.9 and weight decay (L2, every parameter) and the learning rate divided by 10 at
  given steps.

A file of its own beside ``torch_twins.py`` (the lesson's MNIST models).
"""
import torch
import torch.nn.functional as F


class TorchShortcutA(torch.nn.Module):
    """Option A: every other pixel, then zero channels appended up to ``planes``."""

    def __init__(self, in_planes, planes):
        super().__init__()
        self.extra = planes - in_planes

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.extra))


class TorchCifarBlock(torch.nn.Module):
    def __init__(self, in_planes, planes, stride, residual):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.residual = residual
        changes_shape = stride != 1 or in_planes != planes
        self.shortcut = TorchShortcutA(in_planes, planes) if residual and changes_shape else None

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        if self.residual:
            out = out + (x if self.shortcut is None else self.shortcut(x))
        return F.relu(out)


class TorchCifarResNet(torch.nn.Module):
    def __init__(self, n, widths=(16, 32, 64), residual=True, in_channels=3, num_classes=10):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(widths[0])
        stages, in_planes = [], widths[0]
        for i, planes in enumerate(widths):
            blocks = [TorchCifarBlock(in_planes, planes, 1 if i == 0 else 2, residual)]
            blocks += [TorchCifarBlock(planes, planes, 1, residual) for _ in range(n - 1)]
            stages.append(torch.nn.Sequential(*blocks))
            in_planes = planes
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = torch.nn.Linear(widths[2], num_classes)
        for m in self.modules():  # He et al.'s [13]: N(0, 2 / fan_in) for the convs
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


def step_decay_lr(step, lr, milestones):
    """``lr`` divided by 10 at every milestone (a step number) already passed."""
    return lr * 0.1 ** sum(step >= m for m in milestones)


def sgd_step_decay_torch(model, batches, lr, milestones, momentum=0.9, weight_decay=1e-4,
                         after_step=None, warmup_error=None):
    """Train ``model`` on ``batches`` ((images, labels) NumPy arrays) with SGD, momentum, L2
    weight decay on every parameter and the learning rate divided by 10 at ``milestones``;
    ``after_step(step, logits, labels, loss)`` sees every step.  With ``warmup_error`` the
    learning rate is a tenth until the first batch whose error is below it (the paper's warm-up
    for its 110-layer net).  Returns each step's loss."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                          weight_decay=weight_decay)
    model.train()
    losses, warming = [], warmup_error is not None
    for step, (xb, yb) in enumerate(batches):
        for group in opt.param_groups:
            group["lr"] = step_decay_lr(step, lr, milestones) * (0.1 if warming else 1.0)
        yb = torch.from_numpy(yb)
        logits = model(torch.from_numpy(xb))
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if warming:
            warming = float((logits.argmax(1) != yb).float().mean()) >= warmup_error
        if after_step is not None:
            after_step(step, logits.detach(), yb, loss.item())
    return losses


# ---- Li et al.'s filter normalisation, as the authors' code does it on torch tensors --------------
def torch_filter_normalize(direction, weights, ignore_biasbn=True):
    """For each (d, w): 1-d → zeros (``ignore_biasbn``) or a copy of w; otherwise every filter
    ``d[i]`` (in place, one at a time) times ``‖w[i]‖ / (‖d[i]‖ + 1e-10)``."""
    out = []
    for d, w in zip(direction, weights):
        d = d.clone()
        if d.dim() <= 1:
            d = torch.zeros_like(w) if ignore_biasbn else w.clone()
        else:
            for d_i, w_i in zip(d, w):
                d_i.mul_(w_i.norm() / (d_i.norm() + 1e-10))
        out.append(d)
    return out


def torch_hessian_vector_product(model, x, y, vector):
    """H v of the mean cross-entropy at the model's weights, exactly: the gradient of
    ``∇L · v`` (double backward)."""
    params = list(model.parameters())
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vector))
    return torch.autograd.grad(dot, params)
