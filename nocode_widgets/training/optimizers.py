"""The three update rules a run can use — AdamW, SGD with Nesterov momentum, Adamax — computed as
torch.optim computes them (its multi-tensor `_foreach` path, step for step), without torch.optim's
Optimizer methods: each of those imports torch._dynamo on first use, for torch.compile, which no run
uses. That import is 2.1 s on the 2-core machine, a third of a small run's time (BENCHMARKS.md, "Where
the seconds of a small run go"); it is paid by every worker process and every Ray actor.

The classes subclass torch.optim.Optimizer, so torch's learning-rate schedulers and the CUDA grad scaler
drive them as they drive torch's own; they take the arguments `fit.make_optimizer` gives torch's (the
eject notebook runs torch's). tests/training/test_optimizers.py holds each to torch.optim's results."""

from __future__ import annotations

from collections import OrderedDict, defaultdict

import torch


class _Rule(torch.optim.Optimizer):
    """One parameter group, per-parameter state, no closures, hooks or sparse gradients."""

    def __init__(self, params, **defaults):  # not Optimizer.__init__: its add_param_group imports torch._dynamo
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = [{"params": list(params), **defaults}]
        if not self.param_groups[0]["params"]:
            raise ValueError("optimizer got an empty parameter list")
        self._optimizer_step_pre_hooks, self._optimizer_step_post_hooks = OrderedDict(), OrderedDict()
        self._optimizer_state_dict_pre_hooks, self._optimizer_state_dict_post_hooks = OrderedDict(), OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("these optimizers take no closure")
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params, [p.grad for p in params], [self.state[p] for p in params])

    def _update(self, group: dict, params: list, grads: list, states: list) -> None:
        raise NotImplementedError

    @staticmethod
    def _count(states: list) -> list[int]:
        for state in states:
            state["step"] = state.get("step", 0) + 1
        return [state["step"] for state in states]

    def _moments(self, params: list, states: list, second: str) -> tuple[list[int], list, list]:
        """Each parameter's step count (this step included), its first moment and its `second` buffer
        (both made at its first step)."""
        for p, state in zip(params, states):
            if "exp_avg" not in state:
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state[second] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return self._count(states), [s["exp_avg"] for s in states], [s[second] for s in states]


class AdamW(_Rule):
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _update(self, group, params, grads, states):
        lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        steps, exp_avgs, exp_avg_sqs = self._moments(params, states, "exp_avg_sq")
        if decay != 0:
            torch._foreach_mul_(params, 1 - lr * decay)
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
        step_size = [(lr / (1 - beta1 ** n)) * -1 for n in steps]
        denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, [(1 - beta2 ** n) ** 0.5 for n in steps])
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, exp_avgs, denom, step_size)


class SGD(_Rule):
    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def _update(self, group, params, grads, states):
        lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
        if decay != 0:
            grads = torch._foreach_add(grads, params, alpha=decay)
        if momentum != 0:
            bufs = []
            for grad, state in zip(grads, states):
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = grad.detach().clone()
                else:
                    state["momentum_buffer"].mul_(momentum).add_(grad)
                bufs.append(state["momentum_buffer"])
            grads = torch._foreach_add(grads, bufs, alpha=momentum) if group["nesterov"] else bufs
        torch._foreach_add_(params, grads, alpha=-lr)


class Adamax(_Rule):
    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _update(self, group, params, grads, states):
        lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        steps, exp_avgs, exp_infs = self._moments(params, states, "exp_inf")
        if decay != 0:
            grads = torch._foreach_add(grads, params, alpha=decay)
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_infs, beta2)
        norms = torch._foreach_abs(grads)
        torch._foreach_add_(norms, eps)
        torch._foreach_maximum_(exp_infs, norms)
        torch._foreach_addcdiv_(params, exp_avgs, exp_infs, [(lr / (1 - beta1 ** n)) * -1 for n in steps])
