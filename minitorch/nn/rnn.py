"""Recurrent layers: RNN, LSTM and GRU cells, and the multi-layer modules that run them over time.

Read ``module.py`` and ``functional.py`` (``linear``) first; ``minitorch/ops/rnn.py`` after.

The lesson's point: a recurrent net is a fully connected net in a loop that keeps a state.
At every time step t the same weights take the input x_t and the previous hidden state h_{t−1}
and give the next state h_t.  The three kinds differ only in how they mix the two:

Elman RNN (``nonlinearity='tanh'`` or ``'relu'``)::

    h_t = tanh(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)

LSTM (gates input, forget, cell, output — PyTorch's order)::

    i = σ(x W_iiᵀ + b_ii + h W_hiᵀ + b_hi)      f = σ(x W_ifᵀ + b_if + h W_hfᵀ + b_hf)
    g = tanh(x W_igᵀ + b_ig + h W_hgᵀ + b_hg)   o = σ(x W_ioᵀ + b_io + h W_hoᵀ + b_ho)
    c_t = f ⊙ c_{t−1} + i ⊙ g                  h_t = o ⊙ tanh(c_t)

GRU (gates reset, update, new — PyTorch's order)::

    r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr)      z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
    n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))
    h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

The gates of one kind are stored *fused*, as PyTorch stores them: ``weight_ih`` is the gates'
input weights stacked on top of each other, shape (gates·hidden, input), so one matmul computes
all gates at once; ``weight_hh`` likewise (gates·hidden, hidden).  A multi-layer module names
them per layer and direction (``weight_ih_l0``, ``weight_hh_l1_reverse``, ``bias_ih_l0``, …), so
a torch module's ``state_dict`` loads unchanged.

How the modules run a sequence.  x_t W_ihᵀ + b_ih does not depend on the state, so it is
computed for *all* steps of a layer with one matmul before the loop; only the h_{t−1} W_hhᵀ part
must wait for the previous step.  The loop then runs either

* the readable cells below (``rnn_step``/``lstm_step``/``gru_step``, ~15 autograd ops a step), or
* one fused op per layer and direction (``minitorch/ops/rnn.py``: the same equations with the
  backward through time written by hand), which is the default because it does not pay Python's
  per-op bookkeeping at every step.  ``fused=False`` switches to the cells; the tests hold both
  against PyTorch.

Either way the backward pass is the engine's loop, not recursion, and the memory is the saved
activations of every step: linear in the sequence length (1,000 steps are fine).

Truncated backpropagation through time (the lesson's Model3–5) needs nothing special here: pass
the last batch's final state, ``detach()``-ed, as the next batch's initial state.
"""
import math

from minitorch import ops
from minitorch.nn import functional as F
from minitorch.nn.module import Module, Parameter
from minitorch.ops.rnn import gru_sequence, lstm_sequence, rnn_sequence
from minitorch.tensor import empty, zeros

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ---- one time step, written from the basic ops ---------------------------------------------------
# ``xw`` is x_t W_ihᵀ + b_ih, already computed; ``hw`` is h_{t−1} W_hhᵀ + b_hh.
def rnn_step(xw, h, weight_hh, bias_hh, nonlinearity="tanh"):
    """h_t = act(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh)."""
    pre = xw + F.linear(h, weight_hh, bias_hh)
    return ops.tanh(pre) if nonlinearity == "tanh" else ops.relu(pre)


def lstm_step(xw, state, weight_hh, bias_hh):
    """One LSTM step: returns (h_t, c_t) from (h_{t−1}, c_{t−1})."""
    h, c = state
    i, f, g, o = ops.chunk(xw + F.linear(h, weight_hh, bias_hh), 4, dim=-1)
    i, f, g, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)
    c = f * c + i * g
    h = o * ops.tanh(c)
    return h, c


def gru_step(xw, h, weight_hh, bias_hh):
    """One GRU step: h_t from h_{t−1}.  The reset gate scales the hidden part of n only."""
    x_r, x_z, x_n = ops.chunk(xw, 3, dim=-1)
    h_r, h_z, h_n = ops.chunk(F.linear(h, weight_hh, bias_hh), 3, dim=-1)
    r = ops.sigmoid(x_r + h_r)
    z = ops.sigmoid(x_z + h_z)
    n = ops.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def _uniform_parameter(shape, bound):
    """A parameter drawn from U(−bound, bound): PyTorch's default for every recurrent weight."""
    return Parameter(empty(*shape).uniform_(-bound, bound))


# ---- cells: one step, for writing the loop yourself ----------------------------------------------
class _CellBase(Module):
    """Parameters and input checks shared by the three cells."""

    def __init__(self, input_size, hidden_size, bias, gates):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        bound = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = _uniform_parameter((gates * hidden_size, input_size), bound)
        self.weight_hh = _uniform_parameter((gates * hidden_size, hidden_size), bound)
        if bias:
            self.bias_ih = _uniform_parameter((gates * hidden_size,), bound)
            self.bias_hh = _uniform_parameter((gates * hidden_size,), bound)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _check_input(self, input):
        """A (batch, input_size) input, or an unbatched (input_size,) one; returns the 2-d form."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},), got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input with {self.input_size} features in its last "
                             f"dimension, got shape {tuple(input.shape)}")
        return input if input.ndim == 2 else input.unsqueeze(0)

    def _state(self, state, batched, input2d, what="hx"):
        """The given state made 2-d, checked against (batch, hidden_size); zeros when None."""
        expected = (input2d.shape[0], self.hidden_size)
        if state is None:
            return zeros(*expected, dtype=input2d.dtype, device=input2d.device)
        if not batched:
            state = state.unsqueeze(0)
        if tuple(state.shape) != expected:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {expected} "
                             f"(batch, hidden_size), got {tuple(state.shape)}")
        return state

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    """One Elman step, h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), as ``torch.nn.RNNCell``."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} "
                             "(expected 'tanh' or 'relu')")
        super().__init__(input_size, hidden_size, bias, gates=1)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x = self._check_input(input)
        h = self._state(hx, input.ndim == 2, x)
        h = rnn_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh,
                     self.nonlinearity)
        return h if input.ndim == 2 else h.squeeze(0)


class LSTMCell(_CellBase):
    """One LSTM step; ``forward(input, (h, c))`` returns ``(h', c')``, as ``torch.nn.LSTMCell``."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, bias, gates=4)

    def forward(self, input, hx=None):
        x = self._check_input(input)
        batched = input.ndim == 2
        h0, c0 = (None, None) if hx is None else hx
        state = self._state(h0, batched, x, "h"), self._state(c0, batched, x, "c")
        h, c = lstm_step(F.linear(x, self.weight_ih, self.bias_ih), state, self.weight_hh,
                         self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """One GRU step, h' = (1 − z) ⊙ n + z ⊙ h, as ``torch.nn.GRUCell``."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, bias, gates=3)

    def forward(self, input, hx=None):
        x = self._check_input(input)
        h = self._state(hx, input.ndim == 2, x)
        h = gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h if input.ndim == 2 else h.squeeze(0)


# ---- multi-layer modules: the loop over time -----------------------------------------------------
class RNNBase(Module):
    """The stack of layers that ``RNN``, ``LSTM`` and ``GRU`` share.

    Layer l reads the output of layer l−1 (the input for l = 0; both directions' outputs
    concatenated when bidirectional), with dropout between layers in training mode.  Shapes,
    as PyTorch's: input (T, B, input_size), or (B, T, input_size) with ``batch_first``, or an
    unbatched (T, input_size); state (num_layers·directions, B, hidden_size); output
    (T, B, directions·hidden_size) — every step's top-layer state.
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, fused=True):
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"{mode}: num_layers must be a positive integer, got {num_layers!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{mode}: dropout must be a probability in [0, 1], got {dropout}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.fused = fused  # run the hand-written recurrences of ops/rnn.py (False: the cells)
        self.num_directions = 2 if bidirectional else 1
        gate_size = GATES[mode] * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        # PyTorch's registration order, which is also its state_dict order.
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes():
                name = f"l{layer}{suffix}"
                setattr(self, f"weight_ih_{name}",
                        _uniform_parameter((gate_size, layer_input), bound))
                setattr(self, f"weight_hh_{name}",
                        _uniform_parameter((gate_size, hidden_size), bound))
                if bias:
                    setattr(self, f"bias_ih_{name}", _uniform_parameter((gate_size,), bound))
                    setattr(self, f"bias_hh_{name}", _uniform_parameter((gate_size,), bound))

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def _weights(self, layer, suffix):
        name = f"l{layer}{suffix}"
        return (getattr(self, f"weight_ih_{name}"), getattr(self, f"weight_hh_{name}"),
                getattr(self, f"bias_ih_{name}", None) if self.bias else None,
                getattr(self, f"bias_hh_{name}", None) if self.bias else None)

    # -- checking what comes in --------------------------------------------------------------------
    def _time_major(self, input):
        """(T, B, input_size) whatever layout came in; also says whether it was batched."""
        if input.ndim not in (2, 3):
            layout = "(batch, seq, feature)" if self.batch_first else "(seq, batch, feature)"
            raise ValueError(f"{type(self).__name__}: expected a 3-d input {layout} or a 2-d "
                             f"unbatched (seq, feature) one, got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: expected input with {self.input_size} "
                             f"features in its last dimension, got shape {tuple(input.shape)}")
        weight = self._weights(0, "")[0]
        if input.dtype != weight.dtype:  # PyTorch's check and class (ValueError) for these modules
            raise ValueError(f"{type(self).__name__} input dtype ({input.dtype}) does not match "
                             f"weight dtype ({weight.dtype}); convert the input: "
                             f"input.to({weight.dtype})")
        if input.ndim == 2:
            return input.unsqueeze(1), False
        return (input.transpose(0, 1) if self.batch_first else input), True

    def _initial_state(self, state, batch, batched, like, what):
        expected = (self.num_layers * self.num_directions, batch, self.hidden_size)
        if state is None:
            return zeros(*expected, dtype=like.dtype, device=like.device)
        if not batched:
            if state.ndim != 2:
                raise ValueError(f"{type(self).__name__}: for an unbatched input, {what} must be "
                                 f"2-d {expected[::2]}, got shape {tuple(state.shape)}")
            state = state.unsqueeze(1)
        if tuple(state.shape) != expected:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {expected} "
                             f"(num_layers·num_directions, batch, hidden_size), got "
                             f"{tuple(state.shape)}")
        if state.dtype != like.dtype:
            raise RuntimeError(f"{type(self).__name__}: expected {what} of dtype {like.dtype} "
                               f"(the input's), got {state.dtype}")
        return state

    # -- one layer in one direction ----------------------------------------------------------------
    def _run_direction(self, x, state, layer, suffix):
        """Every step of one layer in one direction: (outputs (T, B, H), final state)."""
        w_ih, w_hh, b_ih, b_hh = self._weights(layer, suffix)
        steps, batch = x.shape[0], x.shape[1]
        # The input projection of all steps at once: one (T·B, in) @ (in, G·H) product.
        xw = F.linear(x.reshape(steps * batch, x.shape[2]), w_ih, b_ih)
        xw = xw.reshape(steps, batch, xw.shape[-1])
        reverse = suffix == "_reverse"
        if self.fused:
            return self._fused_direction(xw, state, w_hh, b_hh, reverse)
        return self._composed_direction(xw, state, w_hh, b_hh, reverse)

    def _fused_direction(self, xw, state, w_hh, b_hh, reverse):
        if self.mode == "LSTM":
            outputs, h, c = lstm_sequence(xw, state[0], state[1], w_hh, b_hh, reverse=reverse)
            return outputs, (h, c)
        if self.mode == "GRU":
            return gru_sequence(xw, state, w_hh, b_hh, reverse=reverse)
        nonlinearity = "tanh" if self.mode == "RNN_TANH" else "relu"
        return rnn_sequence(xw, state, w_hh, b_hh, nonlinearity, reverse=reverse)

    def _composed_direction(self, xw, state, w_hh, b_hh, reverse):
        # One Split op hands out the steps (its backward joins their gradients in one go); then
        # the cell runs step by step, and one Stack gathers the outputs.
        steps = [x_t.squeeze(0) for x_t in ops.split(xw, 1, dim=0)]
        order = range(len(steps) - 1, -1, -1) if reverse else range(len(steps))
        outputs = [None] * len(steps)
        for t in order:
            if self.mode == "LSTM":
                state = lstm_step(steps[t], state, w_hh, b_hh)
                outputs[t] = state[0]
            elif self.mode == "GRU":
                state = outputs[t] = gru_step(steps[t], state, w_hh, b_hh)
            else:
                nonlinearity = "tanh" if self.mode == "RNN_TANH" else "relu"
                state = outputs[t] = rnn_step(steps[t], state, w_hh, b_hh, nonlinearity)
        return ops.stack(outputs, dim=0), state

    # -- the whole stack ---------------------------------------------------------------------------
    def _run(self, input, h0, c0=None):
        x, batched = self._time_major(input)
        if x.shape[0] == 0:  # no step to run: PyTorch refuses it too (same class, same words)
            raise RuntimeError(f"{type(self).__name__}: Expected sequence length to be larger "
                               f"than 0 in RNN, got an input of shape {tuple(input.shape)}")
        batch = x.shape[1]
        h0 = self._initial_state(h0, batch, batched, x, "h_0" if self.mode == "LSTM" else "hx")
        if self.mode == "LSTM":
            c0 = self._initial_state(c0, batch, batched, x, "c_0")
        final_h, final_c = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, training=True)
            direction_outputs = []
            for d, suffix in enumerate(self._suffixes()):
                k = layer * self.num_directions + d  # this layer-direction's row of the state
                state = (h0[k], c0[k]) if self.mode == "LSTM" else h0[k]
                outputs, state = self._run_direction(x, state, layer, suffix)
                direction_outputs.append(outputs)
                if self.mode == "LSTM":
                    final_h.append(state[0])
                    final_c.append(state[1])
                else:
                    final_h.append(state)
            x = direction_outputs[0] if len(direction_outputs) == 1 else \
                ops.cat(direction_outputs, dim=2)
        output = x if not self.batch_first else x.transpose(0, 1)
        h_n = ops.stack(final_h, dim=0)
        c_n = ops.stack(final_c, dim=0) if self.mode == "LSTM" else None
        if not batched:
            output = output.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        return output, h_n, c_n

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN, as ``torch.nn.RNN``: ``output, h_n = rnn(input, h_0=None)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, fused=True):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} "
                             "(expected 'tanh' or 'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         fused=fused)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        output, h_n, _ = self._run(input, hx)
        return output, h_n

    def extra_repr(self):
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + ", nonlinearity='relu'"


class LSTM(RNNBase):
    """LSTM, as ``torch.nn.LSTM``: ``output, (h_n, c_n) = lstm(input, (h_0, c_0))``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, fused=True):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, fused=fused)

    def forward(self, input, hx=None):
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise ValueError("LSTM: the initial state must be a pair (h_0, c_0), got "
                             f"{type(hx).__name__}")
        h0, c0 = (None, None) if hx is None else hx
        if (h0 is None) != (c0 is None):
            raise ValueError("LSTM: give both h_0 and c_0, or neither")
        output, h_n, c_n = self._run(input, h0, c0)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """GRU, as ``torch.nn.GRU``: ``output, h_n = gru(input, h_0=None)``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, fused=True):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, fused=fused)

    def forward(self, input, hx=None):
        output, h_n, _ = self._run(input, hx)
        return output, h_n
