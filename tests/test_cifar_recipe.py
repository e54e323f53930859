"""He et al.'s training recipe (``minitorch/vision/cifar_recipe.py``: a Learner with SGD, momentum,
L2 weight decay on every parameter, the step decay and the optional warm-up) against the same
recipe as a plain PyTorch loop (``tests/torch_twins_papers.py``, ``sgd_step_decay_torch``): the
same small net from the same weights, trained on the same Fashion-MNIST batches, ends with the
same weights — and the warm-up ends at the same batch."""
import numpy as np
import pytest
import torch

import minitorch
from minitorch.vision import mnist_databunch
from minitorch.vision.cifar_recipe import train_cifar_net
from minitorch.vision.models.cifar_resnet import CifarResNet
from torch_compare import assert_close
from torch_twins_papers import TorchCifarResNet, sgd_step_decay_torch

EPOCHS, STATS = 3, (0.29, 0.35)


def batches_of(data_dir):
    """The same loader the Learner gets (fixed normalisation, seeded shuffling): 4 batches of 32
    an epoch."""
    return mnist_databunch("fashion_mnist", bs=32, padding=0, stats=STATS, seed=0, limit=128,
                           valid_limit=32, root=data_dir)


@pytest.mark.parametrize("warmup_error", [None, 0.9])
@pytest.mark.parametrize("residual", [True, False])
def test_the_recipe_trains_as_torchs_loop(data_dir, residual, warmup_error):
    minitorch.manual_seed(0)
    model = CifarResNet(1, (2, 4, 8), residual, in_channels=1)
    twin = TorchCifarResNet(1, (2, 4, 8), residual, 1, 10)
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})

    learn = train_cifar_net(batches_of(data_dir), model, EPOCHS, lr=0.1,
                            warmup_error=warmup_error, silent=True)

    data = batches_of(data_dir)
    batches = [(xb.numpy(), yb.numpy()) for _ in range(EPOCHS) for xb, yb in data.train_dl]
    n_steps = len(batches)
    errors = []
    sgd_step_decay_torch(twin, batches, 0.1, [int(0.5 * n_steps), int(0.75 * n_steps)],
                         warmup_error=warmup_error,
                         after_step=lambda step, logits, yb, loss: errors.append(
                             float((logits.argmax(1) != yb).float().mean())))
    if warmup_error is None:
        assert learn.warmup_steps == 0
    else:   # the first batch below the threshold ends it, in both
        torch_warmup = next(i for i, e in enumerate(errors) if e < warmup_error) + 1
        assert 1 <= learn.warmup_steps == torch_warmup < n_steps, (learn.warmup_steps,
                                                                   torch_warmup, errors)
    for name, value in twin.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        assert_close(model.state_dict()[name], value.numpy(), rtol=1e-4, atol=1e-5,
                     what=f"{name} after {n_steps} steps")
