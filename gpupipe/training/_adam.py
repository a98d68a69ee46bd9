"""Adam and AdamW without ``torch.optim.Optimizer``.

Constructing or stepping any ``torch.optim`` optimizer imports ``torch._dynamo`` (its methods are
wrapped by ``torch._disable_dynamo``, which imports it on first call): 1.3-1.8 s of CPU and ~70 MB
(sympy included) on the 2-core build machine, in every process that trains, for a compiler gpupipe
never uses. :class:`Adam` calls torch's own update functions instead
(``torch.optim.adam._single_tensor_adam`` / ``_multi_tensor_adam``, chosen as ``torch.optim.Adam``
chooses them by default: foreach when every parameter is on CUDA, single-tensor otherwise), with the
state laid out as torch's (a float ``step`` tensor, ``exp_avg``, ``exp_avg_sq``), so the weights are
bit for bit the ones ``torch.optim.Adam``/``AdamW`` give (``tests/training/test_adam.py``).

Those functions are private, so their signature is checked before use: torch 2.4-2.6 keep AdamW in
``torch.optim.adamw._single_tensor_adamw`` (no ``decoupled_weight_decay`` keyword), later versions fold
it into Adam's. Where neither layout matches, :class:`Adam` steps a real ``torch.optim.Adam``/``AdamW``
instead (correct weights; only the import is paid).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["Adam"]


class Adam:
    """The part of ``torch.optim.Adam``/``AdamW`` that :func:`gpupipe.train` uses: ``zero_grad`` and ``step``.

    ``decoupled_weight_decay=True`` is AdamW. No amsgrad, no maximize, no closures, no parameter groups.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3, weight_decay: float = 0.0, *,
                 decoupled_weight_decay: bool = False, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay, self.eps = float(lr), float(weight_decay), float(eps)
        self.betas = (float(betas[0]), float(betas[1]))
        self.decoupled_weight_decay = bool(decoupled_weight_decay)
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        # torch.optim's default: foreach kernels when every parameter lives on CUDA, per-tensor loops otherwise
        self.foreach = bool(self.params) and all(p.device.type == "cuda" and not p.is_sparse for p in self.params)
        self._update = _torch_update(self.foreach, self.decoupled_weight_decay)
        self._fallback: Any = None
        if self._update is None:  # this torch's private functions are not the ones this class knows
            cls = torch.optim.AdamW if self.decoupled_weight_decay else torch.optim.Adam
            self._fallback = cls(self.params, lr=self.lr, betas=self.betas, eps=self.eps,
                                 weight_decay=self.weight_decay)

    def zero_grad(self, set_to_none: bool = True) -> None:
        if self._fallback is not None:
            self._fallback.zero_grad(set_to_none=set_to_none)
            return
        for p in self.params:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_()
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        if self._fallback is not None:
            self._fallback.step()
            return
        params, grads, avgs, sqs, steps = [], [], [], [], []
        for p in self.params:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                msg = "Adam does not support sparse gradients (use an embedding with sparse=False)"
                raise RuntimeError(msg)
            st = self.state.get(p)
            if st is None:
                st = self.state[p] = {
                    "step": torch.tensor(0.0, dtype=_scalar_dtype()),
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                }
            params.append(p)
            grads.append(p.grad)
            avgs.append(st["exp_avg"])
            sqs.append(st["exp_avg_sq"])
            steps.append(st["step"])
        if not params:
            return
        has_complex = any(torch.is_complex(p) for p in params)
        update = self._update
        assert update is not None
        update(params, grads, avgs, sqs, [], steps, None, None, amsgrad=False, has_complex=has_complex,
               beta1=self.betas[0], beta2=self.betas[1], lr=self.lr, weight_decay=self.weight_decay, eps=self.eps,
               maximize=False, capturable=False, differentiable=False)


#: the keywords :meth:`Adam.step` passes to torch's update function (besides ``decoupled_weight_decay``)
_KEYWORDS = frozenset({"amsgrad", "has_complex", "beta1", "beta2", "lr", "weight_decay", "eps", "maximize",
                       "capturable", "differentiable"})


def _torch_update(foreach: bool, decoupled: bool) -> Callable[..., Any] | None:
    """torch's own Adam (or AdamW) update function for this torch version, taking exactly the arguments
    :meth:`Adam.step` passes; None when this torch has no such function."""
    import functools

    from torch.optim import adam, adamw

    suffix = "multi_tensor" if foreach else "single_tensor"
    candidates: list[tuple[Any, dict[str, Any]]] = [
        (getattr(adam, f"_{suffix}_adam", None), {"decoupled_weight_decay": decoupled}),  # torch >= 2.7
        (getattr(adamw if decoupled else adam, f"_{suffix}_adam{'w' if decoupled else ''}", None), {}),  # 2.4-2.6
    ]
    for fn, extra in candidates:
        if fn is None:
            continue
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            continue
        keywords = {n for n, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
        required = {n for n in keywords if sig.parameters[n].default is inspect.Parameter.empty}
        positional = [p for p in sig.parameters.values()
                      if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        wanted = _KEYWORDS | set(extra)
        if len(positional) == 8 and wanted <= keywords and required <= wanted:
            return functools.partial(fn, **extra) if extra else fn
    return None


def _scalar_dtype() -> torch.dtype:
    """torch.optim's dtype for ``step``: float64 under a float64 default dtype, float32 otherwise."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
