"""Step 4, backpropagation: trace back how much each weight contributed to the loss (notebook 04).

`backward` is what the loop runs. The rest serves notebook 04: a tiny network whose every value and
gradient can be read, three ways to get a gradient (autograd, the chain rule by hand, finite
differences), the figures, and the exercise checkers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real

import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from .checks import NO_ANSWER, Feedback, as_number, correct, hint
from .plots import PALETTE
from .text import BilingualError, bi


def backward(loss, optimizer) -> None:
    """Step 4: clear the old gradients, then fill each weight's .grad from this loss."""
    optimizer.zero_grad()
    loss.backward()


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


def _label(name: str, index: int, size: int) -> str:
    return name if size == 1 else f"{name}[{index}]"


def plot_grad_bars(grads: Mapping[str, torch.Tensor]) -> Figure:
    """|gradient| of every weight as a bar, one colour per parameter tensor: the tallest is most to blame."""
    if not grads:
        raise BilingualError("勾配がありません。", "There are no gradients to draw.")
    sizes = {name: g.numel() for name, g in grads.items()}
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(grads)}
    items = flat_grads(grads)
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    positions = range(len(items))
    heights = [abs(v) for _, _, v in items]
    ax.bar(positions, heights, color=[colours[n] for n, _, _ in items])
    for position, height, (_, _, v) in zip(positions, heights, items, strict=True):
        # The sign says which way the weight should move; the height, how much it is to blame.
        ax.text(position, height, f"{v:+.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(positions), [_label(n, i, sizes[n]) for n, i, _ in items], rotation=45, ha="right",
                  fontsize=8)
    ax.set_ylim(0, max(heights) * 1.15 or 1.0)
    ax.set_ylabel(bi("|勾配|", "|gradient|"))
    ax.set_title(bi("勾配が大きい重みほど損失への責任が大きい", "the bigger the gradient, the more to blame", sep="\n"),
                 fontsize=10)
    ax.grid(axis="x", visible=False)
    fig.tight_layout()
    return fig


# --- Figures of notebook 04 -----------------------------------------------------------------------

VALUE_COLOUR, GRAD_COLOUR = PALETTE[0], PALETTE[3]

# Where each node sits: the main chain runs left to right; weights and the answer sit above it.
_LAYOUT = {"x": (0.0, 0.0), "z": (1.0, 0.0), "h": (2.0, 0.0), "p": (3.0, 0.0), "L": (4.0, 0.0),
           "w1": (0.64, 1.15), "b1": (1.36, 1.15), "w2": (2.64, 1.15), "b2": (3.36, 1.15), "y": (4.0, 1.15)}
_EDGES = (("x", "z"), ("w1", "z"), ("b1", "z"), ("z", "h"), ("h", "p"), ("w2", "p"), ("b2", "p"),
          ("p", "L"), ("y", "L"))
_KIND = {"x": "data", "y": "data", "w1": "weight", "b1": "weight", "w2": "weight", "b2": "weight",
         "z": "node", "h": "node", "p": "node", "L": "loss"}
_FILL = {"data": "#BBBBBB", "weight": PALETTE[2], "node": PALETTE[5], "loss": PALETTE[4]}


def _node_titles(activation: str) -> dict[str, str]:
    return {"z": "z = w1·x + b1", "h": f"h = {activation}(z)", "p": "p = w2·h + b2", "L": "L = (p - y)²"}


def graph_number(v: float) -> str:
    """How the graph prints a number: short, at most 4 significant digits."""
    return f"{v:.4g}"


def plot_graph(net: TinyNet) -> Figure:
    """The tiny network as a computation graph: each node's value (forward, →) and gradient (backward, ←)."""
    _values_of(net)  # a bilingual error for anything but a TinyNet
    titles = _node_titles(net.activation)
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.5, 4.5)
    ax.set_ylim(-1.2, 1.85)
    ax.axis("off")
    half_w, half_h = 0.29, 0.27
    for start, end in _EDGES:
        (x0, y0), (x1, y1) = _LAYOUT[start], _LAYOUT[end]
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12, color="#777777",
                                     linewidth=1.2, shrinkA=24, shrinkB=24))
    for name, (cx, cy) in _LAYOUT.items():
        kind = _KIND[name]
        ax.add_patch(FancyBboxPatch((cx - half_w, cy - half_h), 2 * half_w, 2 * half_h,
                                    boxstyle="round,pad=0.02,rounding_size=0.06", facecolor=_FILL[kind],
                                    alpha=0.25, edgecolor=_FILL[kind], linewidth=1.5))
        ax.text(cx, cy + 0.15, name, ha="center", va="center", fontsize=10)
        ax.text(cx, cy - 0.02, graph_number(net.values[name]), ha="center", va="center", fontsize=9,
                color=VALUE_COLOUR)
        grad = net.grads.get(name)
        ax.text(cx, cy - 0.18, "-" if grad is None else graph_number(grad), ha="center", va="center", fontsize=9,
                color=GRAD_COLOUR)
        if name in titles:
            ax.text(cx, cy - half_h - 0.1, titles[name], ha="center", va="top", fontsize=7.5, color="#333333")
    # The two directions, under the graph.
    ax.add_patch(FancyArrowPatch((0.0, -0.78), (4.0, -0.78), arrowstyle="-|>", mutation_scale=14,
                                 color=VALUE_COLOUR, linewidth=1.5))
    ax.add_patch(FancyArrowPatch((4.0, -1.05), (0.0, -1.05), arrowstyle="-|>", mutation_scale=14,
                                 color=GRAD_COLOUR, linewidth=1.5))
    ax.text(2.0, -0.72, bi("順伝播:値を左から右へ", "forward: values, left to right"), ha="center", va="bottom",
            fontsize=8.5, color=VALUE_COLOUR)
    ax.text(2.0, -0.99, bi("逆伝播:勾配 ∂L/∂(ノード) を右から左へ", "backward: gradients ∂L/∂node, right to left"),
            ha="center", va="bottom", fontsize=8.5, color=GRAD_COLOUR)
    handles = [Line2D([], [], marker="s", linestyle="", color=VALUE_COLOUR, label=bi("値", "value")),
               Line2D([], [], marker="s", linestyle="", color=GRAD_COLOUR, label=bi("勾配", "gradient")),
               Line2D([], [], marker="s", linestyle="", color=_FILL["weight"], alpha=0.5, label=bi("重み", "weight")),
               Line2D([], [], marker="s", linestyle="", color=_FILL["data"], alpha=0.5,
                      label=bi("データ(勾配なし)", "data (no gradient)"))]
    ax.legend(handles=handles, loc="upper center", fontsize=8, ncol=4, handletextpad=0.2, columnspacing=1.2)
    return fig


def plot_slope(w: float = 2.5, x: float = 2.0, y: float = 8.0) -> Figure:
    """The loss L(w) = (w·x - y)² of a one-weight model, and its slope (the gradient) at w."""
    for name, v in (("w", w), ("x", x), ("y", y)):
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
            raise BilingualError(f"{name} は有限の数にします({v!r})。", f"{name} must be a finite number (got {v!r}).")
    # A fixed window for the slider's range 0..6, so the picture does not jump as w moves.
    w_axis = torch.linspace(min(-1.0, w - 1), max(7.0, w + 1), 200, dtype=torch.float64)
    loss = (w_axis * x - y) ** 2
    at = (w * x - y) ** 2
    grad = 2 * (w * x - y) * x
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    ax.plot(w_axis, loss, color=PALETTE[0], linewidth=2, label=bi("損失 L(w)", "loss L(w)"))
    reach = 0.8
    tangent_w = torch.tensor([w - reach, w + reach])
    ax.plot(tangent_w, at + grad * (tangent_w - w), color=PALETTE[3], linewidth=2,
            label=bi(f"傾き = 勾配 = {grad:.2f}", f"slope = gradient = {grad:.2f}"))
    ax.scatter([w], [at], color=PALETTE[3], s=50, zorder=3)
    if grad != 0:
        # The way to move w so that the loss falls: against the sign of the gradient.
        direction = -math.copysign(0.7, grad)
        ax.annotate("", xy=(w + direction, at), xytext=(w, at),
                    arrowprops={"arrowstyle": "-|>", "color": PALETTE[2], "linewidth": 2})
    ax.plot([], [], color=PALETTE[2], marker=">", linewidth=2, label=bi("損失が下がる向き", "downhill"))
    ax.set_ylim(-2, max(45.0, 1.25 * at))
    ax.set_xlabel(bi("重み w", "weight w"))
    ax.set_ylabel(bi("損失", "loss"))
    ax.set_title(bi(f"w = {w:.2f} のとき 損失 {at:.2f}", f"at w = {w:.2f}: loss {at:.2f}"))
    ax.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    return fig


def slope_explorer():
    """A slider for w beside plot_slope: watch the gradient's sign and size change as w moves."""
    from .widgets import SliderFigure, slider  # ipywidgets only when a widget is wanted

    return SliderFigure(plot_slope, {"w": slider(2.5, 0.0, 6.0, 0.1, "重み w", "weight w")})


# --- Exercises of notebook 04 ---------------------------------------------------------------------

GRADIENT_QUESTION = {"w": 1.5, "x": 3.0, "y": 2.0}  # dL/dw of (w·x - y)^2 = 2 (w·x - y) x = 2 × 2.5 × 3 = 15
CHAIN_QUESTION = (("dL/dp", -4.0), ("dp/dh", 1.5), ("dh/dz", 1.0), ("dz/dw1", 3.0))  # product -18
ACCUMULATE_QUESTION = 3.0  # .grad after one backward(); after a second one without zero_grad: 6


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-3)


_NUMBER_HINT = ("1つの数で答えます(例: -3.5)。", "Answer with one number (e.g. -3.5).")


def check_gradient(answer) -> Feedback:
    """Notebook 04: dL/dw of L = (w·x - y)^2 at w = 1.5, x = 3, y = 2."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint(*_NUMBER_HINT)
    w, x, y = GRADIENT_QUESTION["w"], GRADIENT_QUESTION["x"], GRADIENT_QUESTION["y"]
    miss = w * x - y
    truth = 2 * miss * x
    if _close(value, truth):
        return correct(f"正解です。dL/dw = 2(w·x - y)·x = 2 × {miss:g} × {x:g} = {truth:g}。正なので、w を"
                       f"少し下げると損失が下がります。",
                       f"Right: dL/dw = 2(w·x - y)·x = 2 × {miss:g} × {x:g} = {truth:g}. It is positive, so "
                       f"lowering w a little lowers the loss.")
    if _close(value, -truth):
        return hint("符号が逆です。予測 w·x は正解 y より大きいですか、小さいですか。",
                    "The sign is flipped: is the prediction w·x above or below the answer y?")
    if _close(value, 2 * miss):
        return hint("内側の w·x を w で微分した分(x)を掛け忘れていませんか。",
                    "Did you forget to multiply by the inner derivative, d(w·x)/dw = x?")
    if _close(value, miss * x):
        return hint("2乗を微分すると前に 2 が出ます。", "Differentiating a square brings down a factor 2.")
    if _close(value, miss ** 2):
        return hint("それは損失そのものです。勾配は、w を少し動かしたときの損失の変わり方です。",
                    "That is the loss itself; the gradient is how the loss changes when w moves a little.")
    return hint("L = (w·x - y)² を w で微分します:外側の2乗と内側の w·x、2つの微分の積です。",
                "Differentiate L = (w·x - y)² by w: the outer square's derivative times the inner w·x's.")


def check_chain_rule(answer) -> Feedback:
    """Notebook 04: dL/dw1 from the local derivatives in CHAIN_QUESTION."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint(*_NUMBER_HINT)
    factors = [v for _, v in CHAIN_QUESTION]
    truth = math.prod(factors)
    if _close(value, truth):
        return correct(f"正解です。局所的な微分を全部掛けて {truth:g}。逆伝播は、この掛け算を出力側から順に"
                       f"くり返すだけです。",
                       f"Right: multiply every local derivative to get {truth:g}. Backpropagation repeats this "
                       f"multiplication, starting from the output.")
    if _close(value, sum(factors)):
        return hint("連鎖律では、局所的な微分を足すのではなく掛けます。",
                    "The chain rule multiplies the local derivatives; it does not add them.")
    if _close(value, -truth):
        return hint("符号を確かめましょう。負の数はいくつありますか。",
                    "Check the sign: how many of the numbers are negative?")
    if any(_close(value, truth / f) for f in factors if f != 0):
        return hint("掛け忘れた局所的な微分があります。4つ全部掛けます。",
                    "One local derivative is missing from the product: multiply all four.")
    return hint("dL/dw1 = dL/dp × dp/dh × dh/dz × dz/dw1。4つの数を掛けます。",
                "dL/dw1 = dL/dp × dp/dh × dh/dz × dz/dw1: multiply the four numbers.")


def check_accumulate(answer) -> Feedback:
    """Notebook 04: what w.grad holds after a second backward() of the same loss, without zero_grad."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint(*_NUMBER_HINT)
    once = ACCUMULATE_QUESTION
    if _close(value, 2 * once):
        return correct(f"正解です。.grad は上書きされず足されるので {once:g} + {once:g} = {2 * once:g}。"
                       f"だから毎回 zero_grad() で消してから backward() します。",
                       f"Right: .grad is added to, not replaced, so {once:g} + {once:g} = {2 * once:g}. "
                       f"That is why zero_grad() comes before every backward().")
    if _close(value, once):
        return hint("backward() は .grad を置きかえるでしょうか。上の「勾配はたまる」の実験を見直しましょう。",
                    "Does backward() replace .grad? Look again at the accumulation experiment above.")
    if _close(value, 0.0):
        return hint(".grad を消すのは zero_grad() だけです。この問題では呼んでいません。",
                    "Only zero_grad() clears .grad, and it was not called here.")
    if _close(value, once ** 2):
        return hint("2回目の勾配は1回目に掛けられるのではありません。", "The second gradient is not multiplied in.")
    return hint("1回目の backward() で .grad は 3。2回目の勾配はどう扱われるでしょう。",
                "After the first backward(), .grad is 3. What happens to the second gradient?")
