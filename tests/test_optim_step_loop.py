"""``Optimizer.step`` is one loop for every optimizer; an optimizer writes only ``update``, its
rule for one parameter.  Checked with a rule written here (sign descent), by hand: parameters
without a gradient are skipped, ``maximize`` negates the gradient, every stepped parameter's
version moves (so a graph that saved its old value refuses backward), hyper-parameters are read
from each group at each step, and the closure's loss is returned."""
import numpy as np
import pytest

import minitorch
from minitorch.optim.optimizer import Optimizer


class SignDescent(Optimizer):
    """p ← p − lr · sign(g), counting its steps per parameter in the state."""

    def __init__(self, params, lr=0.1, *, maximize=False):
        super().__init__(params, dict(lr=lr, maximize=maximize))

    def update(self, p, grad, group):
        self.state[p]["steps"] = self.state[p].get("steps", 0) + 1
        p.array -= group["lr"] * p.xp.sign(grad)


@pytest.mark.parametrize("maximize,sign", [(False, 1.0), (True, -1.0)])
def test_the_loop_skips_params_without_grad_and_applies_maximize(maximize, sign):
    a = minitorch.tensor([1.0, -2.0, 3.0], dtype=minitorch.float64, requires_grad=True)
    b = minitorch.tensor([5.0, 5.0], dtype=minitorch.float64, requires_grad=True)
    c = minitorch.tensor([0.5], dtype=minitorch.float64, requires_grad=True)
    opt = SignDescent([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1,
                      maximize=maximize)
    (a * a).sum().backward()          # b gets no gradient
    (c * -1.0).sum().backward()
    versions = [p._version_counter[0] for p in (a, b, c)]
    assert opt.step(closure=lambda: 42.0) == 42.0
    np.testing.assert_array_equal(a.detach().numpy(), [1 - sign * 0.1, -2 + sign * 0.1,
                                                        3 - sign * 0.1])
    np.testing.assert_array_equal(b.detach().numpy(), [5.0, 5.0])
    np.testing.assert_array_equal(c.detach().numpy(), [0.5 + sign * 0.5])
    assert [p._version_counter[0] - v for p, v in zip((a, b, c), versions)] == [1, 0, 1]
    assert b not in opt.state and opt.state[a]["steps"] == 1
    opt.param_groups[1]["lr"] = 0.25  # a scheduler's change is seen at the next step
    opt.step()
    np.testing.assert_array_equal(c.detach().numpy(), [0.5 + sign * 0.75])


def test_an_optimizer_without_a_rule_says_so():
    class NoRule(Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))

    p = minitorch.tensor([1.0], requires_grad=True)
    (p * 2).sum().backward()
    with pytest.raises(NotImplementedError, match="NoRule does not define update"):
        NoRule([p]).step()
