"""Recurrent layers against PyTorch: cells, multi-layer RNN/LSTM/GRU, fused and composed.

Every row builds the torch module, copies its weights into the minitorch twin with
``load_state_dict`` (so parameter names, order and fused gate layouts must match), and then
``check`` compares the outputs and final states, and — with a random upstream gradient — the
gradients of the input, the initial state and every parameter.  Each module row runs twice: on
the fused recurrences of ``ops/rnn.py`` (the default) and on the readable cells (``fused=False``).
"""
import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.ops.rnn import gru_sequence, lstm_sequence, rnn_sequence
from torch_compare import DEVICE, TORCH_DEVICE, check, check_higher_order

INPUT, HIDDEN, STEPS, BATCH = 4, 3, 5, 2


def twins(mt_class, torch_class, dtype, *args, **kwargs):
    """A torch module and a minitorch one with the same weights, in ``dtype``."""
    torch.manual_seed(0)
    torch_module = torch_class(*args, **kwargs).to(TORCH_DEVICE, dtype=getattr(torch, dtype))
    mt_kwargs = dict(kwargs)
    mt_module = mt_class(*args, **mt_kwargs).to(dtype=dtype)
    mt_module.load_state_dict({k: v.detach().cpu().numpy()
                               for k, v in torch_module.state_dict().items()})
    mt_module.to(DEVICE)
    return mt_module, torch_module


def param_pairs(mt_module, torch_module):
    mt_params = dict(mt_module.named_parameters())
    return [(name, mt_params[name], p) for name, p in torch_module.named_parameters()]


# ---- cells ---------------------------------------------------------------------------------------
# (cell, constructor kwargs, dtype, batched, with initial state)
CELL_ROWS = [
    ("RNNCell", {}, "float64", True, True),
    ("RNNCell", {"nonlinearity": "relu"}, "float64", True, True),
    ("RNNCell", {"bias": False}, "float32", True, False),
    ("RNNCell", {}, "float64", False, True),
    ("LSTMCell", {}, "float64", True, True),
    ("LSTMCell", {"bias": False}, "float32", True, True),
    ("LSTMCell", {}, "float64", True, False),
    ("LSTMCell", {}, "float64", False, True),
    ("GRUCell", {}, "float64", True, True),
    ("GRUCell", {}, "float32", True, False),
    ("GRUCell", {"bias": False}, "float64", True, True),
    ("GRUCell", {}, "float64", False, True),
]


@pytest.mark.parametrize("cell,kwargs,dtype,batched,with_state", CELL_ROWS)
def test_cell_matches_torch(cell, kwargs, dtype, batched, with_state):
    mt_cell, torch_cell = twins(getattr(nn, cell), getattr(torch.nn, cell), dtype, INPUT, HIDDEN,
                                **kwargs)
    rng = np.random.default_rng(1)
    lead = (BATCH,) if batched else ()
    x = rng.standard_normal(lead + (INPUT,)).astype(dtype)
    h = rng.standard_normal(lead + (HIDDEN,)).astype(dtype)
    c = rng.standard_normal(lead + (HIDDEN,)).astype(dtype)
    params = param_pairs(mt_cell, torch_cell)
    if cell == "LSTMCell":
        if with_state:
            check(lambda x, h, c: mt_cell(x, (h, c)), lambda x, h, c: torch_cell(x, (h, c)),
                  [x, h, c], params=params)
        else:
            check(lambda x: mt_cell(x), lambda x: torch_cell(x), [x], params=params)
    elif with_state:
        check(lambda x, h: mt_cell(x, h), lambda x, h: torch_cell(x, h), [x, h], params=params)
    else:
        check(lambda x: mt_cell(x), lambda x: torch_cell(x), [x], params=params)


# ---- multi-layer modules -------------------------------------------------------------------------
# (module, constructor kwargs, dtype, with initial state)
MODULE_CONFIGS = [
    ({"num_layers": 1}, "float64", True),
    ({"num_layers": 2}, "float64", True),
    ({"num_layers": 3, "batch_first": True}, "float64", True),
    ({"num_layers": 1, "bidirectional": True}, "float64", True),
    ({"num_layers": 2, "bidirectional": True, "batch_first": True}, "float64", True),
    ({"num_layers": 3, "bidirectional": True, "bias": False}, "float64", True),
    ({"num_layers": 2}, "float64", False),
    ({"num_layers": 2, "bidirectional": True}, "float32", True),
    ({"num_layers": 1, "batch_first": True}, "float32", False),
    ({"num_layers": 2, "dropout": 0.5}, "float64", True),  # compared in eval mode: no dropout
]
MODULES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]
MODULE_ROWS = [(name, {**kind_kwargs, **config}, dtype, with_state, fused)
               for name, kind_kwargs in MODULES
               for config, dtype, with_state in MODULE_CONFIGS
               for fused in (True, False)]


def module_row_id(row):
    name, kwargs, dtype, with_state, fused = row
    text = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}[{text}]-{dtype}-{'state' if with_state else 'zeros'}-" \
           f"{'fused' if fused else 'composed'}"


def module_calls(name, kwargs, dtype, with_state, fused):
    """The minitorch and torch twins of one module row as functions of (x, *state) returning
    (output, h_n[, c_n]), their input arrays, and their parameter pairs."""
    def mt_class(*args, **kw):
        return getattr(nn, name)(*args, fused=fused, **kw)

    mt_module, torch_module = twins(mt_class, getattr(torch.nn, name), dtype, INPUT, HIDDEN,
                                    **kwargs)
    if kwargs.get("dropout"):
        mt_module.eval()
        torch_module.eval()
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs["num_layers"]
    rng = np.random.default_rng(2)
    shape = (BATCH, STEPS, INPUT) if kwargs.get("batch_first") else (STEPS, BATCH, INPUT)
    x = rng.standard_normal(shape).astype(dtype)
    h = rng.standard_normal((layers * directions, BATCH, HIDDEN)).astype(dtype)
    c = rng.standard_normal((layers * directions, BATCH, HIDDEN)).astype(dtype)

    if name == "LSTM":
        def flat(module):  # (output, (h_n, c_n)) → output, h_n, c_n for the harness
            def run(x, *state):
                output, (h_n, c_n) = module(x, tuple(state) if state else None)
                return output, h_n, c_n
            return run
        arrays = [x, h, c] if with_state else [x]
    else:
        def flat(module):
            def run(x, *state):
                return module(x, state[0] if state else None)
            return run
        arrays = [x, h] if with_state else [x]
    return flat(mt_module), flat(torch_module), arrays, param_pairs(mt_module, torch_module)


@pytest.mark.parametrize("name,kwargs,dtype,with_state,fused", MODULE_ROWS,
                         ids=[module_row_id(r) for r in MODULE_ROWS])
def test_module_matches_torch(name, kwargs, dtype, with_state, fused):
    mt_fn, torch_fn, arrays, params = module_calls(name, kwargs, dtype, with_state, fused)
    check(mt_fn, torch_fn, arrays, params=params)


# ---- derivatives of derivatives (create_graph=True) through the fused ops ------------------------
# (the composed cells are the basic ops, each differentiable twice and tested in test_ops.py)
SECOND_ORDER_ROWS = [
    ("RNN", {"num_layers": 2}, True),
    ("RNN", {"nonlinearity": "relu", "num_layers": 1, "bidirectional": True}, True),
    ("RNN", {"num_layers": 1, "bias": False, "batch_first": True}, False),
    ("LSTM", {"num_layers": 2}, True),
    ("LSTM", {"num_layers": 1, "bidirectional": True, "bias": False}, False),
    ("GRU", {"num_layers": 2, "batch_first": True}, True),
    ("GRU", {"num_layers": 1, "bidirectional": True}, False),
]
SECOND_ORDER_IDS = [module_row_id((name, kwargs, "float64", state, True))
                    for name, kwargs, state in SECOND_ORDER_ROWS]


@pytest.mark.parametrize("name,kwargs,with_state", SECOND_ORDER_ROWS, ids=SECOND_ORDER_IDS)
def test_module_second_order(name, kwargs, with_state):
    """Second derivatives with respect to the input, the initial state and every weight."""
    mt_fn, torch_fn, arrays, params = module_calls(name, kwargs, "float64", with_state, True)
    check_higher_order(mt_fn, torch_fn, arrays, params=params)


@pytest.mark.parametrize("name", ["GRU", "LSTM"])
def test_module_third_order(name):
    mt_fn, torch_fn, arrays, params = module_calls(name, {"num_layers": 1}, "float64", True, True)
    check_higher_order(mt_fn, torch_fn, arrays, params=params, order=3)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("fused", [True, False])
def test_unbatched_input_matches_torch(name, fused):
    mt_module, torch_module = twins(lambda *a, **k: getattr(nn, name)(*a, fused=fused, **k),
                                    getattr(torch.nn, name), "float64", INPUT, HIDDEN,
                                    num_layers=2, bidirectional=True)
    x = np.random.default_rng(3).standard_normal((STEPS, INPUT))

    def flat(module):
        def run(x):
            output, state = module(x)
            return (output,) + (tuple(state) if isinstance(state, tuple) else (state,))
        return run
    check(flat(mt_module), flat(torch_module), [x], params=param_pairs(mt_module, torch_module))


# ---- the fused ops on their own: finite differences ---------------------------------------------
# (op, gates, with bias, reverse, extra settings)
FUSED_ROWS = [
    (rnn_sequence, 1, True, False, {"nonlinearity": "tanh"}),
    (rnn_sequence, 1, False, True, {"nonlinearity": "relu"}),
    (lstm_sequence, 4, True, False, {}),
    (lstm_sequence, 4, False, True, {}),
    (gru_sequence, 3, True, True, {}),
    (gru_sequence, 3, False, False, {}),
]


def fused_call(op, gates, with_bias, reverse, settings, steps=4, batch=2, hidden=3):
    """A fused recurrence as a function of its input tensors, and those inputs (float64)."""
    rng = np.random.default_rng(4)

    def leaf(*shape):
        return minitorch.tensor(rng.standard_normal(shape), dtype=minitorch.float64,
                                device=DEVICE, requires_grad=True)
    xw, h0, c0 = leaf(steps, batch, gates * hidden), leaf(batch, hidden), leaf(batch, hidden)
    w_hh = leaf(gates * hidden, hidden)
    b_hh = leaf(gates * hidden) if with_bias else None
    if op is lstm_sequence:
        inputs = [xw, h0, c0, w_hh] + ([b_hh] if with_bias else [])
        fn = lambda xw, h0, c0, w, *b: op(xw, h0, c0, w, *b, reverse=reverse)  # noqa: E731
    else:
        inputs = [xw, h0, w_hh] + ([b_hh] if with_bias else [])
        fn = lambda xw, h0, w, *b: op(xw, h0, w, *b, reverse=reverse, **settings)  # noqa: E731
    return fn, inputs


@pytest.mark.parametrize("op,gates,with_bias,reverse,settings", FUSED_ROWS)
def test_fused_recurrence_gradcheck(op, gates, with_bias, reverse, settings):
    assert minitorch.gradcheck(*fused_call(op, gates, with_bias, reverse, settings))


@pytest.mark.parametrize("op,gates,with_bias,reverse,settings", FUSED_ROWS)
def test_fused_recurrence_gradgradcheck(op, gates, with_bias, reverse, settings):
    """Second derivatives against finite differences of the first (3 steps: each element of
    every input and upstream gradient is nudged, so this is kept small)."""
    assert minitorch.gradgradcheck(*fused_call(op, gates, with_bias, reverse, settings,
                                               steps=3, batch=1, hidden=2))


# ---- state dicts, initialisation, errors ---------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [
    ("RNN", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"num_layers": 3, "bias": False}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("LSTMCell", {}), ("GRUCell", {"bias": False}), ("RNNCell", {"nonlinearity": "relu"}),
])
def test_state_dict_keys_shapes_and_default_init(name, kwargs):
    torch_module = getattr(torch.nn, name)(INPUT, 16, **kwargs)
    mt_module = getattr(nn, name)(INPUT, 16, **kwargs)
    torch_state, mt_state = torch_module.state_dict(), mt_module.state_dict()
    assert list(mt_state) == list(torch_state)  # same names, in the same order
    for key, value in torch_state.items():
        assert tuple(mt_state[key].shape) == tuple(value.shape), key
    # PyTorch's default: every weight and bias uniform in ±1/sqrt(hidden_size).
    values = np.concatenate([p.detach().numpy().ravel() for p in mt_module.parameters()])
    assert np.abs(values).max() <= 0.25
    assert np.abs(values).max() > 0.2 and values.std() > 0.1  # spread over the range, not zero


def test_dropout_between_layers_acts_in_training_only():
    gru = nn.GRU(INPUT, HIDDEN, num_layers=2, dropout=0.5)
    x = minitorch.randn(STEPS, BATCH, INPUT)
    gru.eval()
    eval_out, _ = gru(x)
    eval_again, _ = gru(x)
    np.testing.assert_array_equal(eval_out.detach().numpy(), eval_again.detach().numpy())
    gru.train()
    train_out, _ = gru(x)
    assert not np.allclose(train_out.detach().numpy(), eval_out.detach().numpy())
    # The first layer sees no dropout: a 1-layer GRU with dropout gives the eval result.
    single = nn.GRU(INPUT, HIDDEN, num_layers=1, dropout=0.5)
    single.train()
    out_train, _ = single(x)
    single.eval()
    out_eval, _ = single(x)
    np.testing.assert_allclose(out_train.detach().numpy(), out_eval.detach().numpy())


@pytest.mark.parametrize("fused", [True, False])
def test_thousand_steps_backward_matches_torch(fused):
    # Backpropagation through 1,000 steps: the engine's walk is a loop, and the gradient still
    # matches PyTorch's after passing through every step.
    steps = 1000
    mt_gru, torch_gru = twins(lambda *a, **k: nn.GRU(*a, fused=fused, **k), torch.nn.GRU,
                              "float64", 2, 4, num_layers=1)
    x = np.random.default_rng(5).standard_normal((steps, 1, 2))
    check(lambda x: mt_gru(x)[1], lambda x: torch_gru(x)[1], [x],
          params=param_pairs(mt_gru, torch_gru))


def test_truncated_bptt_state_carries_value_not_graph():
    rnn = nn.RNN(INPUT, HIDDEN, batch_first=True)
    first, second = minitorch.randn(BATCH, STEPS, INPUT), minitorch.randn(BATCH, STEPS, INPUT)
    _, h = rnn(first)
    carried = h.detach()
    output, _ = rnn(second, carried)
    output.sum().backward()
    assert carried.grad is None and carried.grad_fn is None
    # The carried state changes the result: it is used, not reset.
    output_from_zero, _ = rnn(second)
    assert not np.allclose(output.detach().numpy(), output_from_zero.detach().numpy())


@pytest.mark.parametrize("make,call,message", [
    (lambda: nn.GRU(4, 3), lambda m: m(minitorch.randn(5, 2, 6)), "expected input with 4"),
    (lambda: nn.GRU(4, 3), lambda m: m(minitorch.randn(5, 2, 4, 1)), "3-d input"),
    (lambda: nn.GRU(4, 3, 2), lambda m: m(minitorch.randn(5, 2, 4), minitorch.randn(1, 2, 3)),
     r"expected hx of shape \(2, 2, 3\)"),
    (lambda: nn.LSTM(4, 3), lambda m: m(minitorch.randn(5, 2, 4), minitorch.randn(1, 2, 3)),
     "must be a pair"),
    (lambda: nn.LSTM(4, 3, bidirectional=True),
     lambda m: m(minitorch.randn(5, 2, 4), (minitorch.randn(2, 2, 3), minitorch.randn(1, 2, 3))),
     r"expected c_0 of shape \(2, 2, 3\)"),
    (lambda: nn.RNN(4, 3, batch_first=True),
     lambda m: m(minitorch.randn(2, 5, 4), minitorch.randn(1, 5, 3)),
     r"expected hx of shape \(1, 2, 3\)"),
    (lambda: nn.GRUCell(4, 3), lambda m: m(minitorch.randn(2, 4), minitorch.randn(3, 3)),
     r"expected hx of shape \(2, 3\)"),
    (lambda: nn.LSTMCell(4, 3), lambda m: m(minitorch.randn(2, 5)), "expected input with 4"),
    (lambda: nn.RNN(4, 3, nonlinearity="sigmoid"), None, "unknown nonlinearity"),
    (lambda: nn.GRU(4, 3, num_layers=0), None, "num_layers must be a positive integer"),
])
def test_bad_input_gives_clear_error(make, call, message):
    with pytest.raises(ValueError, match=message):
        module = make()
        call(module)
