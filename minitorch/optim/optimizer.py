"""``Optimizer``: what every optimizer shares.  Read this file first in ``optim/``, after
``nn/module.py`` (where the Parameters it updates come from).

An optimizer turns gradients into parameter changes.  The *rule* differs (``sgd.py``,
``adam.py``, ``rmsprop.py``); the bookkeeping around it is the same, and lives here:

* **The step.**  ``step()`` loops over the param groups and their parameters and hands each
  parameter that has a gradient to the optimizer's ``update(p, grad, group)``: an optimizer
  writes only its rule for one parameter.

* **Param groups.**  ``optimizer.param_groups`` is a list of dicts.  Each holds ``'params'`` (a
  list of tensors) and every hyper-parameter of the rule (``'lr'``, ``'momentum'``, ...).  A
  group that does not name a hyper-parameter gets the constructor's value (``defaults``), so
  ``SGD([{'params': body}, {'params': head, 'lr': 1e-2}], lr=1e-3, momentum=0.9)`` trains the
  head ten times faster than the body.  ``step()`` reads the hyper-parameters from the group
  *every time*, which is how a scheduler works: fastai's one-cycle just writes
  ``group['lr'] = ...`` (and ``group['betas']`` or ``group['momentum']``) before each step.
* **State.**  Rules with memory (momentum, running averages) keep it per parameter in
  ``optimizer.state[param]``, a dict created empty on first use.
* **Saving.**  ``state_dict()`` gives ``{'state': ..., 'param_groups': ...}`` in PyTorch's
  layout: parameters are replaced by integer ids (their position when the groups are read in
  order), because the tensors themselves belong to the model and are saved with it.
  ``load_state_dict`` maps the ids back onto this optimizer's parameters, in the same order.
* **zero_grad.**  Gradients add up across ``backward`` calls, so each step starts by clearing
  them.

The updates work on the raw arrays (``p.array``, ``p.grad.array``) in place, with the array
module of the parameter (``p.xp``), so the same code runs on NumPy and CuPy arrays and records
nothing in the autograd graph.
"""
import collections
import copy
import numbers

from minitorch import backend
from minitorch.autograd import enable_grad
from minitorch.tensor import Tensor

# Options that PyTorch's optimizers store in every param group but that only choose *how* the
# update runs there (a fused kernel, a CUDA graph, a differentiable step), never *what* it
# computes.  A torch state dict carries them; loading one here drops them.
TORCH_IMPLEMENTATION_OPTIONS = ("foreach", "fused", "capturable", "differentiable")


def check_grads(optimizer):
    """Refuse a step when some parameter's ``.grad`` does not fit it.

    Every step calls this first, before any parameter changes.  A gradient of another shape
    would otherwise be broadcast into the update (a (1,) gradient moves every weight by the
    same amount) or fail halfway through the step; another dtype would silently change the
    parameter's.  PyTorch refuses such a ``.grad`` when it is assigned; here it is refused
    when it is used, with PyTorch's words.
    """
    name = type(optimizer).__name__
    for g, group in enumerate(optimizer.param_groups):
        for i, p in enumerate(group["params"]):
            grad = p.grad
            if grad is None:
                continue
            if tuple(grad.shape) != tuple(p.shape):
                raise RuntimeError(
                    f"{name}.step: parameter {i} of param group {g} has a gradient of size "
                    f"{list(grad.shape)} but the tensor has size {list(p.shape)}. Please ensure "
                    "that the gradient and the tensor are the same size")
            if grad.dtype != p.dtype:
                raise RuntimeError(
                    f"{name}.step: parameter {i} of param group {g} has a gradient with dtype "
                    f"{grad.dtype} but the tensor has dtype {p.dtype}. The gradient must match "
                    "the tensor's dtype")


class Optimizer:
    """Base class: param groups, per-parameter state, zero_grad, state_dict/load_state_dict.

    A subclass builds ``defaults`` (its hyper-parameters by name), calls
    ``super().__init__(params, defaults)``, checks hyper-parameter values in
    :meth:`check_hyperparameters`, and writes :meth:`update`: its rule for one parameter.
    :meth:`step` is the same loop for every optimizer.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        # A bad constructor argument is an error even when every group overrides it.
        self.check_hyperparameters(self.defaults, where="")
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Tensors or "
                            "of dicts (param groups), got a single Tensor; pass [tensor] or "
                            "model.parameters()")
        self.state = collections.defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list (did a "
                             "generator such as model.parameters() get used up earlier?)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- param groups ----------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters, with its own hyper-parameters; missing ones take the
        constructor's values.  (Fine-tuning adds the unfrozen layers this way.)"""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: a param group is a dict with a 'params' "
                            f"entry, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}.add_param_group: the param group has no 'params' entry "
                             f"(it has {sorted(param_group)})")
        group = dict(param_group)  # our own copy: filling in defaults must not change the caller's
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: parameters must come in an ordered collection (a list), "
                            "not a set: the order of a set changes between runs, and "
                            "state_dict() identifies parameters by their position")
        group["params"] = list(params)

        for i, p in enumerate(group["params"]):
            if not isinstance(p, Tensor):
                hint = " (from named_parameters()? pass parameters())" \
                    if isinstance(p, tuple) else ""
                raise TypeError(f"{name} can only optimize Tensors, but parameter {i} of the "
                                f"group is a {type(p).__name__}{hint}")
            if not p.is_leaf:
                raise ValueError(f"{name} can't optimize a non-leaf Tensor (parameter {i} of "
                                 f"the group was made by {p.grad_fn!r}); optimize the tensor "
                                 "you created, not a result computed from it")
            if not p.is_floating_point():
                raise TypeError(f"{name} can only optimize floating-point tensors, but "
                                f"parameter {i} of the group has dtype {p.dtype}")
        if len({id(p) for p in group["params"]}) != len(group["params"]):
            # PyTorch only warns; a parameter listed twice would be updated twice per step.
            raise ValueError(f"{name}: a parameter appears more than once in the same group")
        for other in self.param_groups:
            if {id(p) for p in other["params"]} & {id(p) for p in group["params"]}:
                raise ValueError(f"{name}: some parameters appear in more than one param group")

        unknown = sorted(set(group) - set(self.defaults) - {"params"})
        if unknown:
            raise ValueError(f"{name}: unknown hyper-parameter(s) {unknown} in a param group; "
                             f"{name} takes {sorted(self.defaults)}")
        for option, default in self.defaults.items():
            group.setdefault(option, default)
        self.check_hyperparameters(group, where=f" (param group {len(self.param_groups)})")
        self.param_groups.append(group)

    def check_hyperparameters(self, options, where):
        """Raise ValueError naming the first hyper-parameter of ``options`` that is out of
        range.  ``where`` ends the message (which param group).  Subclasses extend this."""

    def _require(self, options, option, low, where, high=None, index=None):
        """Check ``low <= options[option]`` (and ``< high`` when given) with a clear error.

        ``index`` picks an element of a tuple option (``betas[0]``)."""
        value = options[option] if index is None else options[option][index]
        label = option if index is None else f"{option}[{index}]"
        upper = "" if high is None else f" and < {high}"
        problem = f"{type(self).__name__}: {label} must be a number >= {low}{upper}"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{problem}, got {type(value).__name__} {value!r}{where}")
        if not value >= low or (high is not None and value >= high):  # `not >=` catches NaN
            raise ValueError(f"{problem}, got {value!r}{where}")

    # ---- the step --------------------------------------------------------------------------------
    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns ``closure()`` if given.

        The loop every optimizer shares: over the param groups, over their parameters, skipping
        those without a gradient (frozen, or unused by the loss).  The hyper-parameters are read
        from the group at every step (a scheduler may have changed them since the last one),
        the gradient is negated with ``maximize``, and the optimizer's :meth:`update` changes the
        parameter in place.  Every gradient is checked first (:func:`check_grads`), so a
        gradient that does not fit its parameter changes nothing."""
        loss = self._evaluate(closure)
        check_grads(self)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = -p.grad.array if group.get("maximize", False) else p.grad.array
                self.update(p, grad, group)
                self._mark_changed(p)
        return loss

    def update(self, p, grad, group):
        """The rule: change ``p.array`` in place from its gradient array ``grad`` and the
        hyper-parameters of its ``group``, keeping any memory in ``self.state[p]``.  (PyTorch
        writes the same as its ``_single_tensor_<name>`` functions.)"""
        raise NotImplementedError(f"{type(self).__name__} does not define update()")

    @staticmethod
    def _evaluate(closure):
        """Some methods (L-BFGS) need the loss re-computed during the step; ``closure`` does it,
        with gradients recorded even though ``step`` itself is often called under no_grad."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    @staticmethod
    def _mark_changed(param):
        """Bump the version counter of a parameter updated in place, as in-place tensor methods
        do, so that backward through a graph that saved its old value fails loudly."""
        param._version_counter[0] += 1

    def zero_grad(self, set_to_none=True):
        """Clear the gradients: set them to None (default; frees memory and lets the next
        backward write a fresh array), or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array[...] = 0

    # ---- saving and loading ----------------------------------------------------------------------
    def state_dict(self):
        """``{'state': {id: {...}}, 'param_groups': [{..., 'params': [ids]}]}``, as in PyTorch.

        Parameters are numbered in the order the groups list them.  The state holds references to
        this optimizer's buffers (as PyTorch's does): save it, or ``copy.deepcopy`` it, before
        stepping on if you want a snapshot.
        """
        ids = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [ids.setdefault(id(p), len(ids)) for p in group["params"]]
            groups.append(packed)
        state = {ids[id(p)]: dict(s) for p, s in self.state.items() if id(p) in ids}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load what ``state_dict()`` returned (this one's or PyTorch's, tensors or arrays).

        The saved groups must match this optimizer's: as many groups, as many parameters in each,
        every hyper-parameter of this optimizer with a valid value, and state arrays shaped like
        their parameters.  Everything
        is checked before anything changes, so a mismatched state dict leaves the optimizer as it
        was.  The saved hyper-parameters (lr, betas, ...) replace the current ones; the state is
        copied onto each parameter's device and dtype.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and "
                             f"'param_groups' (from Optimizer.state_dict()), got {got}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"param group(s), this optimizer {len(self.param_groups)}")

        param_of_id = {}
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: param group {i} of the state dict has "
                                 f"{len(saved['params'])} parameters, this optimizer's "
                                 f"{len(group['params'])}")
            # (PyTorch also saves parameter names when it was given named_parameters().)
            options = {k: v for k, v in saved.items()
                       if k not in ("params", "param_names", *TORCH_IMPLEMENTATION_OPTIONS)}
            missing = sorted(set(self.defaults) - set(options))
            if missing:
                raise ValueError(f"{name}.load_state_dict: param group {i} of the state dict "
                                 f"lacks {name}'s hyper-parameter(s) {missing} (was it saved "
                                 f"from another optimizer? it has {sorted(options)})")
            # Other entries are kept: a scheduler may have stored its own (torch's 'initial_lr').
            options = copy.deepcopy(options)
            self.check_hyperparameters(options, where=f" (param group {i} of the state dict)")
            options["params"] = group["params"]
            new_groups.append(options)
            param_of_id.update(zip(saved["params"], group["params"]))

        new_state = collections.defaultdict(dict)
        for key, saved_state in state_dict["state"].items():
            key = int(key)  # a round trip through a file may have turned the ids into strings
            if key not in param_of_id:
                raise ValueError(f"{name}.load_state_dict: the state dict has state for "
                                 f"parameter id {key}, which no param group lists "
                                 f"(ids {sorted(param_of_id)})")
            param = param_of_id[key]
            new_state[param] = {k: self._load_state_value(param, key, k, v)
                                for k, v in saved_state.items()}
        self.param_groups = new_groups
        self.state = new_state

    def _load_state_value(self, param, param_id, key, value):
        """One saved state entry, ready to use: ``step`` as an int, an array as a Tensor of the
        parameter's shape, copied onto its device with its dtype, anything else as it was."""
        if hasattr(value, "detach") and not isinstance(value, Tensor):  # a torch tensor
            value = value.detach().cpu().numpy()
        if isinstance(value, Tensor):
            value = value.array
        if key == "step":  # PyTorch keeps the step count as a float tensor; it is an integer
            return int(value.item() if hasattr(value, "item") else value)
        if not backend.is_array(value):
            return copy.deepcopy(value)
        if tuple(value.shape) != tuple(param.shape):
            raise ValueError(f"{type(self).__name__}.load_state_dict: state[{param_id}]"
                             f"[{key!r}] has shape {tuple(value.shape)}, but the parameter it "
                             f"belongs to has shape {tuple(param.shape)}")
        array = backend.to_device(value, param.device).astype(param.dtype, copy=True)
        return Tensor(array)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines + [")"])
