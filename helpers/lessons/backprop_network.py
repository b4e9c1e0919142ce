"""Notebook 04: the tiny network of one input, one hidden unit and one output; its gradients by the
chain rule, by autograd and by finite differences."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real

import torch
from torch import nn

from ..engine.text import BilingualError

# --- The tiny network: x -> z = w1*x + b1 -> h = act(z) -> p = w2*h + b2 -> L = (p - y)^2 ----------

ACTIVATIONS = ("relu", "tanh")
WEIGHTS = ("w1", "b1", "w2", "b2")
# Readable numbers: the prediction is 5 and the answer 8, a miss of 3 (as in notebooks 00 and 03).
TINY_DEFAULTS = {"x": 2.0, "w1": 1.0, "b1": 0.5, "w2": 2.0, "b2": 0.0, "y": 8.0}


def _activation(activation: str):
    if activation == "relu":
        return torch.relu
    if activation == "tanh":
        return torch.tanh
    raise BilingualError(f"活性化関数は {' か '.join(ACTIVATIONS)} です({activation!r} が渡されました)。",
                         f"The activation must be {' or '.join(ACTIVATIONS)} (got {activation!r}).")


def tiny_forward(x, y, w1, b1, w2, b2, activation: str = "relu") -> dict:
    """The tiny network's forward pass; returns every node as a tensor: z, h, p and the loss L."""
    z = w1 * x + b1
    h = _activation(activation)(z)
    p = w2 * h + b2  # the prediction
    L = (p - y) ** 2  # squared error: the loss
    return {"z": z, "h": h, "p": p, "L": L}


def tiny_loss(x, y, w1, b1, w2, b2, activation: str = "relu"):
    """The tiny network's loss L = (w2 * act(w1 * x + b1) + b2 - y)^2."""
    return tiny_forward(x, y, w1, b1, w2, b2, activation)["L"]


@dataclass(frozen=True)
class TinyNet:
    """One run of the tiny network: every node's value, and its gradient dL/d(node) from autograd.

    grads has no entry for the data x and y: the blame is traced back to the weights, not the question.
    """

    values: dict[str, float]
    grads: dict[str, float]
    activation: str = "relu"

    @property
    def loss(self) -> float:
        return self.values["L"]


def tiny_network(x: float = 2.0, w1: float = 1.0, b1: float = 0.5, w2: float = 2.0, b2: float = 0.0,
                 y: float = 8.0, activation: str = "relu") -> TinyNet:
    """Run the tiny network forward and backward (autograd, float64); collect each value and gradient."""
    numbers = {"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2, "y": y}
    for name, v in numbers.items():
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
            raise BilingualError(f"{name} は有限の数にします({v!r} が渡されました)。",
                                 f"{name} must be a finite number (got {v!r}).")
    leaves = {name: torch.tensor(float(v), dtype=torch.float64, requires_grad=name in WEIGHTS)
              for name, v in numbers.items()}
    nodes = tiny_forward(**leaves, activation=activation)
    for t in nodes.values():
        t.retain_grad()  # intermediate nodes forget their .grad unless asked to keep it
    nodes["L"].backward()
    tensors = {**leaves, **nodes}
    values = {name: t.item() for name, t in tensors.items()}
    grads = {name: t.grad.item() for name, t in tensors.items() if t.grad is not None}
    return TinyNet(values, grads, activation)


# --- The chain rule, written out ------------------------------------------------------------------

# Each local derivative: how one node moves when the node just before it moves.
LOCAL_FORMULAS = {
    "dL/dp": "2(p - y)",
    "dp/dw2": "h",
    "dp/db2": "1",
    "dp/dh": "w2",
    "dh/dz": {"relu": "1 if z > 0 else 0", "tanh": "1 - h^2"},
    "dz/dw1": "x",
    "dz/db1": "1",
}

# The path from the loss back to each node: its gradient is the product of these local derivatives.
CHAIN_PATHS = {
    "p": ("dL/dp",),
    "w2": ("dL/dp", "dp/dw2"),
    "b2": ("dL/dp", "dp/db2"),
    "h": ("dL/dp", "dp/dh"),
    "z": ("dL/dp", "dp/dh", "dh/dz"),
    "w1": ("dL/dp", "dp/dh", "dh/dz", "dz/dw1"),
    "b1": ("dL/dp", "dp/dh", "dh/dz", "dz/db1"),
}


def _values_of(net) -> tuple[dict, str]:
    if isinstance(net, TinyNet):
        return net.values, net.activation
    raise BilingualError("tiny_network() の結果(TinyNet)を渡します。",
                         f"Pass the result of tiny_network() (a TinyNet), not {type(net).__name__}.")


def local_derivatives(net: TinyNet) -> dict[str, float]:
    """Each node's derivative with respect to the node just before it, from the forward values alone."""
    v, activation = _values_of(net)
    _activation(activation)
    slope = (1.0 if v["z"] > 0 else 0.0) if activation == "relu" else 1.0 - v["h"] ** 2
    return {"dL/dp": 2 * (v["p"] - v["y"]), "dp/dw2": v["h"], "dp/db2": 1.0, "dp/dh": v["w2"],
            "dh/dz": slope, "dz/dw1": v["x"], "dz/db1": 1.0}


@dataclass(frozen=True)
class ChainStep:
    """dL/d(target) as a product of local derivatives along the path from the loss."""

    target: str
    factors: tuple[tuple[str, float], ...]  # (name, value), e.g. ("dp/dh", 2.0)

    @property
    def product(self) -> float:
        return math.prod(value for _, value in self.factors)

    def __str__(self) -> str:
        names = " × ".join(name for name, _ in self.factors)
        numbers = " × ".join(f"({value:.4f})" for _, value in self.factors)
        return f"dL/d{self.target} = {names} = {numbers} = {self.product:.4f}"


def chain_rule_steps(net: TinyNet) -> list[ChainStep]:
    """For every node behind the loss, its gradient as a chain of local derivatives."""
    local = local_derivatives(net)
    return [ChainStep(target, tuple((name, local[name]) for name in path)) for target, path in CHAIN_PATHS.items()]


def chain_rule_grads(net: TinyNet) -> dict[str, float]:
    """dL/d(node) for p, h, z and the four weights, by multiplying local derivatives (no autograd)."""
    return {step.target: step.product for step in chain_rule_steps(net)}


# --- Finite differences and autograd for any function of tensors ----------------------------------

def _named_params(params) -> dict[str, torch.Tensor]:
    if isinstance(params, nn.Module):
        params = dict(params.named_parameters())
    if not isinstance(params, Mapping) or not params:
        raise BilingualError("params は {名前: テンソル} の辞書か nn.Module にします。",
                             "params must be a dict {name: tensor} or an nn.Module.")
    for name, p in params.items():
        if not isinstance(p, torch.Tensor):
            raise BilingualError(f"{name} は torch.Tensor にします({type(p).__name__} が渡されました)。",
                                 f"{name} must be a torch.Tensor (got {type(p).__name__}).")
        if p.dtype != torch.float64:
            raise BilingualError(
                f"{name} は {p.dtype} です。差分で勾配を測るには float64 にします(.double())。float32 では"
                f"丸め誤差が小さな差を消してしまいます。",
                f"{name} is {p.dtype}. Measuring a gradient by differences needs float64 (.double()); in "
                f"float32 the rounding error swamps the tiny differences.")
    return dict(params)


def _scalar(value) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise BilingualError(f"fn() は損失を1つの数で返します(形 {tuple(value.shape)} が返されました)。",
                                 f"fn() must return the loss as one number (got shape {tuple(value.shape)}).")
        return value.item()
    return float(value)


def finite_difference_grads(fn: Callable[[], object], params, h: float = 1e-6) -> dict[str, torch.Tensor]:
    """Estimate dL/dw for every number w in params: (L(w + h) - L(w - h)) / 2h, nudging one at a time.

    fn() computes the loss from the current params; params is {name: float64 tensor} or an nn.Module.
    """
    if isinstance(h, bool) or not isinstance(h, Real) or not 0 < h < 1:
        raise BilingualError(f"h は 0 より大きく 1 より小さい数にします({h!r})。",
                             f"h must be a number above 0 and below 1 (got {h!r}).")
    named = _named_params(params)
    grads = {}
    with torch.no_grad():  # nudging the weights is measurement, not part of any graph
        for name, p in named.items():
            grad = torch.zeros_like(p)
            for index in itertools.product(*(range(n) for n in p.shape)):  # () for a single number
                old = p[index].item()
                p[index] = old + h
                up = _scalar(fn())
                p[index] = old - h
                down = _scalar(fn())
                p[index] = old  # put the weight back exactly
                grad[index] = (up - down) / (2 * h)
            grads[name] = grad
    return grads


def autograd_grads(fn: Callable[[], object], params) -> dict[str, torch.Tensor]:
    """dL/dw for every tensor in params by autograd, without touching any .grad."""
    named = _named_params(params)
    loss = fn()
    grads = torch.autograd.grad(loss, list(named.values()), allow_unused=True)
    return {name: torch.zeros_like(p) if g is None else g for (name, p), g in zip(named.items(), grads, strict=True)}


# --- A real model's gradients ---------------------------------------------------------------------

def weight_grads(model: nn.Module) -> dict[str, torch.Tensor]:
    """Each parameter's .grad (on the CPU), by name; a bilingual error when backward() has not run."""
    grads = {}
    for name, p in model.named_parameters():
        if p.grad is None:
            raise BilingualError(f"{name} の .grad が空(None)です。先に loss.backward() を実行します。",
                                 f"{name}.grad is empty (None): run loss.backward() first.")
        grads[name] = p.grad.detach().cpu().clone()  # a copy: a later backward() adds to .grad in place
    return grads


def flat_grads(grads: Mapping[str, torch.Tensor]) -> list[tuple[str, int, float]]:
    """Every single number of every gradient: (parameter name, index in the flattened tensor, value)."""
    return [(name, i, v) for name, g in grads.items() for i, v in enumerate(g.detach().cpu().reshape(-1).tolist())]
