"""Fused recurrences: a whole layer's loop over time as one op, its backward written by hand.

Read ``minitorch/nn/rnn.py`` first: its cells (``rnn_step``, ``lstm_step``, ``gru_step``) write
each recurrence from the basic ops, readable as the equations, and the modules there can run on
them (``fused=False``).  That composed version records ~15 small ops per time step, and for
70 steps × 2 layers the Python bookkeeping of those ops costs more than the arithmetic.  The ops
in this file compute the *same* equations, but one Function covers all time steps of one layer in
one direction: ``forward`` loops over time in plain array code and keeps the gate activations;
``backward`` is backpropagation through time written out — walk the steps in reverse, turn
dL/dh_t into the gradients of the gates, and carry dL/dh_{t-1} to the step before.

What every op here receives and returns (T steps, B sequences, H hidden units, G gates):

    xw      (T, B, G·H)  x_t W_ihᵀ + b_ih for every step, computed *outside* by one big matmul
                         (the input projection does not depend on h, so it needs no loop)
    h0      (B, H)       the initial hidden state (and c0 for the LSTM)
    w_hh    (G·H, H)     the recurrent weight, gates stacked in PyTorch's order
    b_hh    (G·H,)       the recurrent bias (left out when the layer has bias=False)
    →  outputs (T, B, H) every step's h_t, and h_T (and c_T) the final state

``reverse=True`` runs the steps from the last to the first (the backward direction of a
bidirectional layer) and stores each h_t at its own time position, so no flip is needed.

The weight gradients are gathered once at the end, not per step: with the per-step gradients of
the recurrent pre-activations stacked in ``d_hw`` (T, B, G·H) and the states that fed them in
``h_prev`` (T, B, H), dL/dW_hh = Σ_t d_hwₜᵀ h_{t−1} is one (G·H × T·B) @ (T·B × H) product.

For ``create_graph=True`` (gradients of gradients) the hand-written backward through time is
not differentiated by hand a second time: ``backward_graph`` rebuilds the same recurrence from
primitive ops on the input Tensors (``steps``: each op's equations once more, one step at a
time) and lets the engine differentiate that with ``grad(..., create_graph=True)``.  It records
~15 ops a step, as ``fused=False`` does, but only when a gradient is to be differentiated again.
"""
from minitorch import autograd
from minitorch.autograd import Function
from minitorch.ops.elementwise import relu, sigmoid, tanh
from minitorch.ops.shape import stack


def _sigmoid(xp, z):
    # Written with tanh, which never overflows: σ(z) = (1 + tanh(z/2)) / 2.
    return 0.5 * (1.0 + xp.tanh(0.5 * z))


def _step_order(steps, reverse):
    return range(steps - 1, -1, -1) if reverse else range(steps)


class _Recurrence(Function):
    """What the three fused recurrences share: the settings, the order of the steps, and the
    gradients of the recurrent weight and bias from the stacked per-step gradients."""

    def __init__(self, has_bias, reverse):
        self.has_bias, self.reverse = has_bias, reverse

    def _hidden_projection(self, h, w_hh, b_hh):
        hw = h @ w_hh.T
        return hw + b_hh if b_hh is not None else hw

    def _weight_grads(self, d_hw, h_prev, hidden):
        """dL/dW_hh = Σ_t d_hwₜᵀ h_{t−1};  dL/db_hh = Σ_t Σ_batch d_hwₜ."""
        flat_d = d_hw.reshape(-1, d_hw.shape[-1])
        weight_index = -2 if self.has_bias else -1  # w_hh is the last input, or before b_hh
        grad_w = None
        if self.needs_input_grad[weight_index]:
            grad_w = flat_d.T @ h_prev.reshape(-1, hidden)
        if not self.has_bias:
            return (grad_w,)
        grad_b = flat_d.sum(axis=0) if self.needs_input_grad[-1] else None
        return grad_w, grad_b

    def backward_graph(self, *grad_outputs):
        """The recurrence rebuilt from ops (``steps``) on the input Tensors, differentiated by
        the engine: its gradients are then in a graph, differentiable again."""
        wanted = [k for k, needed in enumerate(self.needs_input_grad) if needed]
        found = autograd.grad(self.steps(*self.inputs), [self.inputs[k] for k in wanted],
                              grad_outputs, create_graph=True, allow_unused=True)
        grads = [None] * len(self.inputs)
        for k, g in zip(wanted, found):
            grads[k] = g
        return tuple(grads)

    def steps(self, *inputs):
        """forward's equations with ops on Tensors: the same outputs, in a graph."""
        raise NotImplementedError(f"{type(self).__name__} must define steps")


class RNNSequence(_Recurrence):
    """The Elman RNN over all steps:  h_t = act(xw_t + h_{t−1} W_hhᵀ + b_hh),  act = tanh or relu.

    Backward, per step from the last:  d_pre = dL/dh_t · act'(·), where tanh' = 1 − h_t² and
    relu' = [h_t > 0];  dL/dxw_t = d_pre;  dL/dh_{t−1} = d_pre W_hh (+ the output's own gradient).
    """

    def __init__(self, nonlinearity, has_bias, reverse):
        super().__init__(has_bias, reverse)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def forward(self, xw, h0, w_hh, b_hh=None):
        xp = self.xp
        steps = xw.shape[0]
        outputs = xp.empty(xw.shape[:2] + (h0.shape[-1],), dtype=xw.dtype)
        h_prev = xp.empty_like(outputs)  # the state each step started from, for the backward
        h = h0
        for t in _step_order(steps, self.reverse):
            h_prev[t] = h
            pre = xw[t] + self._hidden_projection(h, w_hh, b_hh)
            h = xp.tanh(pre) if self.nonlinearity == "tanh" else xp.maximum(pre, 0)
            outputs[t] = h
        self.save_for_backward(outputs, h_prev, w_hh)
        return outputs, h.copy()

    def backward(self, grad_outputs, grad_h_last):
        outputs, h_prev, w_hh = self.saved_tensors
        xp = self.xp
        d_pre_all = xp.empty_like(outputs)
        d_h = grad_h_last  # dL/dh carried from the step after (in the order the steps ran)
        for t in reversed(_step_order(outputs.shape[0], self.reverse)):
            d_h = d_h + grad_outputs[t]
            h = outputs[t]
            d_pre = d_h * (1.0 - h * h) if self.nonlinearity == "tanh" else d_h * (h > 0)
            d_pre_all[t] = d_pre
            d_h = d_pre @ w_hh
        return (d_pre_all, d_h) + self._weight_grads(d_pre_all, h_prev, outputs.shape[-1])

    def steps(self, xw, h0, w_hh, b_hh=None):
        outputs, h = [None] * xw.shape[0], h0
        for t in _step_order(xw.shape[0], self.reverse):
            pre = xw[t] + self._hidden_projection(h, w_hh, b_hh)
            h = outputs[t] = tanh(pre) if self.nonlinearity == "tanh" else relu(pre)
        return stack(outputs), h


class LSTMSequence(_Recurrence):
    """The LSTM over all steps, gates in PyTorch's order (input, forget, cell, output):

        [i, f, g, o] = xw_t + h_{t−1} W_hhᵀ + b_hh          (pre-activations, split in four)
        i, f, o = σ(·),  g = tanh(·)
        c_t = f ⊙ c_{t−1} + i ⊙ g
        h_t = o ⊙ tanh(c_t)

    Backward, per step from the last (dL/dh_t and dL/dc_t include what step t+1 sent back):

        dL/do = dh ⊙ tanh(c_t)              dL/dc_t += dh ⊙ o ⊙ (1 − tanh²(c_t))
        dL/di = dc ⊙ g    dL/dg = dc ⊙ i    dL/df = dc ⊙ c_{t−1}    dL/dc_{t−1} = dc ⊙ f
        through the activations: σ' = σ(1 − σ), tanh' = 1 − tanh²
        dL/dxw_t = the four pre-activation gradients;  dL/dh_{t−1} = (that) W_hh
    """

    def forward(self, xw, h0, c0, w_hh, b_hh=None):
        xp = self.xp
        steps, batch = xw.shape[:2]
        hidden = h0.shape[-1]
        outputs = xp.empty((steps, batch, hidden), dtype=xw.dtype)
        gates = xp.empty((steps, batch, 4 * hidden), dtype=xw.dtype)  # i, f, g, o after σ/tanh
        cells = xp.empty_like(outputs)
        cells_prev = xp.empty_like(outputs)
        h_prev = xp.empty_like(outputs)
        h, c = h0, c0
        for t in _step_order(steps, self.reverse):
            h_prev[t], cells_prev[t] = h, c
            pre = xw[t] + self._hidden_projection(h, w_hh, b_hh)
            act = gates[t]
            act[:, :2 * hidden] = _sigmoid(xp, pre[:, :2 * hidden])      # i, f
            act[:, 2 * hidden:3 * hidden] = xp.tanh(pre[:, 2 * hidden:3 * hidden])  # g
            act[:, 3 * hidden:] = _sigmoid(xp, pre[:, 3 * hidden:])      # o
            i, f, g, o = (act[:, k * hidden:(k + 1) * hidden] for k in range(4))
            c = f * c + i * g
            h = o * xp.tanh(c)
            cells[t], outputs[t] = c, h
        self.save_for_backward(gates, cells, cells_prev, h_prev, w_hh)
        return outputs, h.copy(), c.copy()

    def backward(self, grad_outputs, grad_h_last, grad_c_last):
        gates, cells, cells_prev, h_prev, w_hh = self.saved_tensors
        xp = self.xp
        hidden = h_prev.shape[-1]
        d_pre_all = xp.empty_like(gates)
        d_h, d_c = grad_h_last, grad_c_last
        for t in reversed(_step_order(gates.shape[0], self.reverse)):
            d_h = d_h + grad_outputs[t]
            i, f, g, o = (gates[t][:, k * hidden:(k + 1) * hidden] for k in range(4))
            tanh_c = xp.tanh(cells[t])
            d_c = d_c + d_h * o * (1.0 - tanh_c * tanh_c)
            d_pre = d_pre_all[t]
            d_pre[:, :hidden] = d_c * g * i * (1.0 - i)                        # input gate
            d_pre[:, hidden:2 * hidden] = d_c * cells_prev[t] * f * (1.0 - f)  # forget gate
            d_pre[:, 2 * hidden:3 * hidden] = d_c * i * (1.0 - g * g)          # cell candidate
            d_pre[:, 3 * hidden:] = d_h * tanh_c * o * (1.0 - o)               # output gate
            d_c = d_c * f
            d_h = d_pre @ w_hh
        return (d_pre_all, d_h, d_c) + self._weight_grads(d_pre_all, h_prev, hidden)

    def steps(self, xw, h0, c0, w_hh, b_hh=None):
        outputs, h, c = [None] * xw.shape[0], h0, c0
        for t in _step_order(xw.shape[0], self.reverse):
            i, f, g, o = (xw[t] + self._hidden_projection(h, w_hh, b_hh)).chunk(4, dim=-1)
            c = sigmoid(f) * c + sigmoid(i) * tanh(g)
            h = outputs[t] = sigmoid(o) * tanh(c)
        return stack(outputs), h, c


class GRUSequence(_Recurrence):
    """The GRU over all steps, gates in PyTorch's order (reset, update, new):

        [x_r, x_z, x_n] = xw_t          [h_r, h_z, h_n] = h_{t−1} W_hhᵀ + b_hh
        r = σ(x_r + h_r)     z = σ(x_z + h_z)     n = tanh(x_n + r ⊙ h_n)
        h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}

    The reset gate multiplies the *hidden* part of n only (h_n, bias included), which is why
    the input and hidden projections cannot be added before the gates as for the LSTM.

    Backward, per step from the last:

        dL/dn = dh ⊙ (1 − z)     dL/dz = dh ⊙ (h_{t−1} − n)     dL/dh_{t−1} (direct) = dh ⊙ z
        d_n = dL/dn ⊙ (1 − n²)   dL/dr = d_n ⊙ h_n
        d_r = dL/dr ⊙ r(1 − r)   d_z = dL/dz ⊙ z(1 − z)
        dL/dxw_t = [d_r, d_z, d_n]       dL/d(h W_hhᵀ + b_hh) = [d_r, d_z, d_n ⊙ r]
        dL/dh_{t−1} = direct + [d_r, d_z, d_n ⊙ r] W_hh
    """

    def forward(self, xw, h0, w_hh, b_hh=None):
        xp = self.xp
        steps, batch = xw.shape[:2]
        hidden = h0.shape[-1]
        outputs = xp.empty((steps, batch, hidden), dtype=xw.dtype)
        gates = xp.empty((steps, batch, 3 * hidden), dtype=xw.dtype)  # r, z, n after σ/tanh
        hidden_n = xp.empty_like(outputs)  # h_n = the hidden part of n's pre-activation
        h_prev = xp.empty_like(outputs)
        h = h0
        for t in _step_order(steps, self.reverse):
            h_prev[t] = h
            hw = self._hidden_projection(h, w_hh, b_hh)
            act = gates[t]
            act[:, :2 * hidden] = _sigmoid(xp, xw[t][:, :2 * hidden] + hw[:, :2 * hidden])
            r, z = act[:, :hidden], act[:, hidden:2 * hidden]
            hidden_n[t] = hw[:, 2 * hidden:]
            n = act[:, 2 * hidden:]
            n[...] = xp.tanh(xw[t][:, 2 * hidden:] + r * hidden_n[t])
            h = n + z * (h - n)
            outputs[t] = h
        self.save_for_backward(gates, hidden_n, h_prev, w_hh)
        return outputs, h.copy()

    def backward(self, grad_outputs, grad_h_last):
        gates, hidden_n, h_prev, w_hh = self.saved_tensors
        xp = self.xp
        hidden = h_prev.shape[-1]
        d_xw_all = xp.empty_like(gates)
        d_hw_all = xp.empty_like(gates)
        d_h = grad_h_last
        for t in reversed(_step_order(gates.shape[0], self.reverse)):
            d_h = d_h + grad_outputs[t]
            r, z, n = (gates[t][:, k * hidden:(k + 1) * hidden] for k in range(3))
            d_n = d_h * (1.0 - z) * (1.0 - n * n)
            d_z = d_h * (h_prev[t] - n) * z * (1.0 - z)
            d_r = d_n * hidden_n[t] * r * (1.0 - r)
            d_xw, d_hw = d_xw_all[t], d_hw_all[t]
            d_xw[:, :hidden], d_xw[:, hidden:2 * hidden], d_xw[:, 2 * hidden:] = d_r, d_z, d_n
            d_hw[:, :2 * hidden] = d_xw[:, :2 * hidden]
            d_hw[:, 2 * hidden:] = d_n * r
            d_h = d_h * z + d_hw @ w_hh
        return (d_xw_all, d_h) + self._weight_grads(d_hw_all, h_prev, hidden)

    def steps(self, xw, h0, w_hh, b_hh=None):
        outputs, h = [None] * xw.shape[0], h0
        for t in _step_order(xw.shape[0], self.reverse):
            x_r, x_z, x_n = xw[t].chunk(3, dim=-1)
            h_r, h_z, h_n = self._hidden_projection(h, w_hh, b_hh).chunk(3, dim=-1)
            r, z = sigmoid(x_r + h_r), sigmoid(x_z + h_z)
            n = tanh(x_n + r * h_n)
            h = outputs[t] = n + z * (h - n)
        return stack(outputs), h


# ---- what the modules call -----------------------------------------------------------------------
def rnn_sequence(xw, h0, w_hh, b_hh=None, nonlinearity="tanh", reverse=False):
    """All steps of one Elman RNN layer (one direction); returns (outputs, h_T)."""
    op = RNNSequence(nonlinearity, b_hh is not None, reverse)
    return op(xw, h0, w_hh, b_hh) if b_hh is not None else op(xw, h0, w_hh)


def lstm_sequence(xw, h0, c0, w_hh, b_hh=None, reverse=False):
    """All steps of one LSTM layer (one direction); returns (outputs, h_T, c_T)."""
    op = LSTMSequence(b_hh is not None, reverse)
    return op(xw, h0, c0, w_hh, b_hh) if b_hh is not None else op(xw, h0, c0, w_hh)


def gru_sequence(xw, h0, w_hh, b_hh=None, reverse=False):
    """All steps of one GRU layer (one direction); returns (outputs, h_T)."""
    op = GRUSequence(b_hh is not None, reverse)
    return op(xw, h0, w_hh, b_hh) if b_hh is not None else op(xw, h0, w_hh)
