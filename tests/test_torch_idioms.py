"""The way everyday PyTorch code trains a model, run in both libraries side by side.

Beginners' PyTorch code (tutorials, the examples repository) goes through the same handful of
idioms: weights made with ``randn(...) / math.sqrt(n)`` and ``requires_grad_()``, a model that
is a plain function using ``@`` and broadcasting, hand-made updates inside ``no_grad`` followed
by ``grad.zero_()``, then ``nn.Module`` with ``nn.Parameter``, ``nn.Linear``, ``optim``,
``TensorDataset`` and ``DataLoader``, ``model.train()``/``eval()``, a ``Lambda`` module in a
``Sequential``, ``x.view(x.size(0), -1)``, ``.to(device)``, and the test loop's
``argmax(dim=1, keepdim=True)`` / ``eq(target.view_as(pred)).sum().item()``.

Each test here writes one such training script once, as a function of the library, runs it
with ``minitorch`` and with ``torch`` from the same starting weights and the same data (in
float64, so that agreement is tight), and compares every number it produces: losses,
accuracies and the final weights.
"""
import math

import numpy as np
import pytest
import torch

import minitorch
from tests.torch_compare import DEVICE, assert_close, to_numpy

TOL = dict(rtol=1e-9, atol=1e-11)


def _data(n=96, features=20, classes=5, seed=0):
    g = np.random.default_rng(seed)
    centres = g.standard_normal((classes, features))
    y = g.integers(0, classes, n)
    x = centres[y] + 0.8 * g.standard_normal((n, features))
    return x, y


def _dev(lib):
    """The device idiom: the GPU when there is one (minitorch: the suite's device), else CPU."""
    if lib is torch:
        return torch.device("cpu")
    return minitorch.device(DEVICE)


def _compare(ours, theirs, what):
    assert len(ours) == len(theirs), what
    for i, (o, t) in enumerate(zip(ours, theirs)):
        if isinstance(t, float):
            assert math.isclose(o, t, rel_tol=1e-9, abs_tol=1e-11), f"{what} {i}: {o} vs {t}"
        else:
            assert_close(o, t, what=f"{what} {i}", **TOL)


# ---- 1. a model from tensors alone ---------------------------------------------------------------
def from_scratch(lib, x, y, w0, lr=0.5, bs=16, epochs=3):
    """Logistic regression with nothing but tensor operations and hand-made updates."""
    x, y = lib.tensor(x).to(_dev(lib)), lib.tensor(y).to(_dev(lib))
    weights = lib.tensor(w0).to(_dev(lib))
    weights.requires_grad_()
    bias = lib.zeros(w0.shape[1], dtype=lib.float64, requires_grad=True, device=_dev(lib))

    def model(xb):
        scores = xb @ weights + bias                               # broadcast add of the bias
        return scores - scores.exp().sum(-1).log().unsqueeze(-1)   # log-softmax by hand

    def nll(log_probs, target):
        return -log_probs[range(target.shape[0]), target].mean()   # pick each row's class

    def accuracy(out, target):
        return (lib.argmax(out, dim=1) == target).float().mean()

    record = []
    n = x.shape[0]
    for _ in range(epochs):
        for i in range((n - 1) // bs + 1):
            xb, yb = x[i * bs:(i + 1) * bs], y[i * bs:(i + 1) * bs]
            loss = nll(model(xb), yb)
            loss.backward()
            with lib.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
            record.append(loss.item())
    with lib.no_grad():
        final = model(x)
    summary = [accuracy(final, y).item(), nll(final, y).item()]
    return record, summary, [weights.detach(), bias.detach()]


def test_a_model_from_tensors_alone_trains_as_in_torch():
    x, y = _data()
    w0 = np.random.default_rng(1).standard_normal((20, 5)) / math.sqrt(20)
    ours, theirs = from_scratch(minitorch, x, y, w0), from_scratch(torch, x, y, w0)
    _compare(ours[0], theirs[0], "loss at step")
    _compare(ours[1], theirs[1], "final accuracy and loss")
    _compare(ours[2], theirs[2], "final weight")
    assert theirs[1][0] > 0.5  # the script does learn (so the comparison means something)


# ---- 2. nn.Module, nn.Parameter, nn.Linear, optim, Dataset, DataLoader --------------------------
def refactored(lib, x, y, state, stage, lr=0.3, bs=16, epochs=2):
    """The same model written with more of the library at each ``stage``."""
    nn, F = lib.nn, lib.nn.functional
    data = lib.utils.data

    class WithParameters(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(lib.zeros(20, 5, dtype=lib.float64))
            self.bias = nn.Parameter(lib.zeros(5, dtype=lib.float64))

        def forward(self, xb):
            return xb @ self.weights + self.bias

    class WithLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(20, 5).double()

        def forward(self, xb):
            return self.lin(xb)

    model = (WithParameters() if stage == "parameters" else WithLinear()).to(_dev(lib))
    model.load_state_dict({k: v for k, v in state[stage].items()})
    xs, ys = lib.tensor(x).to(_dev(lib)), lib.tensor(y).to(_dev(lib))
    train_ds = data.TensorDataset(xs[:64], ys[:64])
    valid_dl = data.DataLoader(data.TensorDataset(xs[64:], ys[64:]), batch_size=bs * 2)
    opt = lib.optim.SGD(model.parameters(), lr=lr) if stage in ("optim", "loader") else None
    record = []
    for _ in range(epochs):
        model.train()
        if stage == "loader":
            batches = data.DataLoader(train_ds, batch_size=bs)
        else:
            batches = (train_ds[i * bs:i * bs + bs] for i in range((len(train_ds) - 1) // bs + 1))
        for xb, yb in batches:
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            if opt is None:
                with lib.no_grad():
                    for p in model.parameters():
                        p -= p.grad * lr
                    model.zero_grad()
            else:
                opt.step()
                opt.zero_grad()
            record.append(loss.item())
        model.eval()
        with lib.no_grad():
            valid_loss = sum(F.cross_entropy(model(xb), yb) for xb, yb in valid_dl)
        record.append((valid_loss / len(valid_dl)).item())
    return record, [p.detach() for p in model.parameters()]


@pytest.mark.parametrize("stage", ["parameters", "linear", "optim", "loader"])
def test_refactoring_with_nn_optim_and_data_trains_as_in_torch(stage):
    x, y = _data(seed=2)
    g = np.random.default_rng(3)
    start = {"parameters": {"weights": g.standard_normal((20, 5)) / math.sqrt(20),
                            "bias": np.zeros(5)}}
    start["linear"] = start["optim"] = start["loader"] = {
        "lin.weight": g.standard_normal((5, 20)) / math.sqrt(20), "lin.bias": np.zeros(5)}
    theirs_state = {k: {n: torch.tensor(v) for n, v in s.items()} for k, s in start.items()}
    ours = refactored(minitorch, x, y, start, stage)
    theirs = refactored(torch, x, y, theirs_state, stage)
    _compare(ours[0], theirs[0], f"{stage}: losses")
    _compare(ours[1], theirs[1], f"{stage}: final parameter")


# ---- 3. a CNN trained as the examples train MNIST: Adadelta, StepLR, a test loop ----------------
def cnn_script(lib, x, y, state, dropout, epochs=2, train=True):
    nn, F, optim = lib.nn, lib.nn.functional, lib.optim

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1)
            self.conv2 = nn.Conv2d(4, 8, 3, 1)
            self.dropout = nn.Dropout(dropout)
            self.fc1 = nn.Linear(72, 16)
            self.fc2 = nn.Linear(16, 3)

        def forward(self, x):
            x = F.relu(self.conv2(F.relu(self.conv1(x))))
            x = self.dropout(F.max_pool2d(x, 2))
            x = F.relu(self.fc1(lib.flatten(x, 1)))
            return F.log_softmax(self.fc2(x), dim=1)

    device = _dev(lib)
    model = Net().double().to(device)
    model.load_state_dict(state)
    dataset = lib.utils.data.TensorDataset(lib.tensor(x), lib.tensor(y))
    train_loader = lib.utils.data.DataLoader(dataset, batch_size=8)
    test_loader = lib.utils.data.DataLoader(dataset, batch_size=20)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    record = []
    for _ in range(epochs):
        model.train()
        for data, target in (train_loader if train else []):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
            record.append(loss.item())
        model.eval()
        test_loss, correct = 0, 0
        with lib.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction="sum").item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        record += [test_loss / len(test_loader.dataset), float(correct)]
        if train:
            scheduler.step()
            record.append(scheduler.get_last_lr()[0])
    return record, [p.detach() for p in model.parameters()]


def _images(n=40, seed=4):
    """Three kinds of 10×10 images: a bright top half, a bright left half, or noise."""
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, n)
    x = 0.3 * g.standard_normal((n, 1, 10, 10))
    x[y == 0, :, :5, :] += 1.0
    x[y == 1, :, :, :5] += 1.0
    return x, y


@pytest.mark.parametrize("dropout", [0.0, 0.5], ids=["no dropout", "dropout in eval only"])
def test_the_examples_cnn_recipe_trains_as_in_torch(dropout):
    x, y = _images()
    state = _torch_cnn_state()
    ours_state = {k: v.numpy() for k, v in state.items()}
    if dropout:  # random masks differ between the libraries: compare the evaluation only
        ours = cnn_script(minitorch, x, y, ours_state, dropout, epochs=1, train=False)
        theirs = cnn_script(torch, x, y, state, dropout, epochs=1, train=False)
    else:
        ours = cnn_script(minitorch, x, y, ours_state, dropout)
        theirs = cnn_script(torch, x, y, state, dropout)
        assert theirs[0][-2] > 20  # it learns: most of the 40 images right after two epochs
    _compare(ours[0], theirs[0], "loss, test loss, correct or lr")
    _compare(ours[1], theirs[1], "final parameter")


def _torch_cnn_state():
    g = torch.Generator().manual_seed(5)
    shapes = {"conv1.weight": (4, 1, 3, 3), "conv1.bias": (4,), "conv2.weight": (8, 4, 3, 3),
              "conv2.bias": (8,), "fc1.weight": (16, 72), "fc1.bias": (16,),
              "fc2.weight": (3, 16), "fc2.bias": (3,)}
    return {k: (torch.rand(s, generator=g, dtype=torch.float64) - 0.5) * 0.6
            for k, s in shapes.items()}


# ---- 4. Sequential with a Lambda module, adaptive pooling, a loader that moves batches ----------
def sequential_script(lib, x, y, state, lr=0.1):
    nn, F = lib.nn, lib.nn.functional

    class Lambda(nn.Module):
        def __init__(self, func):
            super().__init__()
            self.func = func

        def forward(self, x):
            return self.func(x)

    class MovingLoader:
        """Wraps a DataLoader, reshaping each batch and moving it to the device."""

        def __init__(self, dl, device):
            self.dl, self.device = dl, device

        def __len__(self):
            return len(self.dl)

        def __iter__(self):
            for xb, yb in self.dl:
                yield xb.view(-1, 1, 10, 10).to(self.device), yb.to(self.device)

    dev = _dev(lib)
    model = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(6, 3, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    ).double()
    model.load_state_dict(state)
    model.to(dev)
    flat = lib.tensor(x.reshape(len(x), -1))
    loader = MovingLoader(lib.utils.data.DataLoader(
        lib.utils.data.TensorDataset(flat, lib.tensor(y)), batch_size=10), dev)
    opt = lib.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses, nums = [], []
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
        nums.append(len(xb))
    mean = np.sum(np.multiply(losses, nums)) / np.sum(nums)
    return losses + [float(mean)], [p.detach() for p in model.parameters()]


def test_sequential_with_lambda_and_adaptive_pooling_trains_as_in_torch():
    x, y = _images(seed=6)
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 3, 2, 1), torch.nn.ReLU(),
                               torch.nn.Conv2d(6, 3, 3, 2, 1)).double()
    state = twin.state_dict()  # the Sequential's conv layers are its items 0 and 2
    ours = sequential_script(minitorch, x, y, {k: v.numpy() for k, v in state.items()})
    theirs = sequential_script(torch, x, y, state)
    _compare(ours[0], theirs[0], "loss")
    _compare(ours[1], theirs[1], "final parameter")
    assert all(to_numpy(p).dtype == np.float64 for p in ours[1])
