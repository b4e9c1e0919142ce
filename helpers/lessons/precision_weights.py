"""Notebook 10: weights seen as what they learned: convolution filters, a tiny attention model's
Q/K/V matrices, and which matrix elements one update changes."""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..engine.text import BilingualError, bi
from .precision_formats import _bare, _numpy, _same_shape
from .style import diverging_cmap, sequential_cmap

# Blue for negative weights, white for zero, vermillion for positive: the palette's own colours.
WEIGHT_CMAP = diverging_cmap("weights")
ATTENTION_CMAP = sequential_cmap("attention")


# --- Part A1: convolution filters are decided by training -------------------------------------------

def make_cnn(filters: int = 4, seed: int = 0) -> nn.Sequential:
    """A tiny CNN for 1-channel pictures: `filters` 3x3 filters, ReLU, the strongest response, 2 classes."""
    if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
        raise BilingualError(f"フィルタの数は 1 以上の整数です({filters!r})。",
                             f"The number of filters must be a whole number of at least 1 (got {filters!r}).")
    with torch.random.fork_rng(devices=[]):  # the same start every time, global seed untouched
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv2d(1, filters, kernel_size=3),  # (batch, 1, H, W) -> (batch, filters, H - 2, W - 2)
            nn.ReLU(),
            nn.AdaptiveMaxPool2d(1),  # (batch, filters, 1, 1): how strongly each filter fired anywhere
            nn.Flatten(),  # (batch, filters)
            nn.Linear(filters, 2),  # (batch, 2): a score for "horizontal" and for "vertical"
        )


def accuracy(model: nn.Module, X, y) -> float:
    """The share of rows whose highest score is the right class (y holds class numbers)."""
    with torch.inference_mode():
        return (model(X).argmax(dim=1) == y).float().mean().item()


def filters_figure(before, after) -> Figure:
    """Each 3x3 filter (filters, 1, k, k) before training (top row) and after (bottom row), one colour scale."""
    _same_shape(before, after, "フィルタ", "filters")
    if before.dim() != 4:
        raise BilingualError(f"フィルタの形は (フィルタ数, 1, k, k) です({tuple(before.shape)})。",
                             f"Filters must have shape (filters, 1, k, k) (got {tuple(before.shape)}).")
    b, a = _numpy(before)[:, 0], _numpy(after)[:, 0]  # (filters, k, k)
    count = len(b)
    limit = float(max(abs(b).max(), abs(a).max())) or 1.0  # one scale: growth shows as stronger colour
    fig = Figure(figsize=(6.5, 3.4))
    axes = fig.subplots(2, count, squeeze=False)
    for j in range(count):
        for row, w in enumerate((b, a)):
            ax = axes[row][j]
            ax.imshow(w[j], cmap=WEIGHT_CMAP, vmin=-limit, vmax=limit)
            _bare(ax)
        axes[0][j].set_title(bi(f"フィルタ {j + 1}", f"filter {j + 1}"), fontsize=9)
    axes[0][0].set_ylabel(bi("学習前", "before", sep="\n"), fontsize=9)
    axes[1][0].set_ylabel(bi("学習後", "after", sep="\n"), fontsize=9)
    fig.suptitle(bi("3×3 フィルタの重み(オレンジ +、青 −)", "3×3 filter weights (orange +, blue −)"), fontsize=11)
    fig.tight_layout()
    return fig


# --- Part A2: Query, Key and Value are weights too ---------------------------------------------------

class SelfAttention(nn.Module):
    """One head of self-attention: every position mixes all positions' values, weighted by query · key."""

    def __init__(self, d_model: int):
        super().__init__()
        self.d_model = d_model
        self.q = nn.Linear(d_model, d_model, bias=False)  # W_q: what a position is looking for
        self.k = nn.Linear(d_model, d_model, bias=False)  # W_k: what a position offers to be found by
        self.v = nn.Linear(d_model, d_model, bias=False)  # W_v: what a position passes on when chosen

    def attention(self, x):
        """Attention weights (batch, seq, seq): row i says how much position i looks at each position."""
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise BilingualError(
                f"入力の形は (バッチ, 系列の長さ, {self.d_model}) です({tuple(x.shape)} が渡されました)。",
                f"The input must have shape (batch, length, {self.d_model}) (got {tuple(x.shape)}).")
        scores = self.q(x) @ self.k(x).transpose(-2, -1)  # (batch, seq, seq)
        return (scores / math.sqrt(self.d_model)).softmax(dim=-1)  # each row adds up to 1

    def forward(self, x):
        return self.attention(x) @ self.v(x)  # (batch, seq, d_model)


class MaxFinder(nn.Module):
    """Numbers in, the largest number out at every position: embedding -> self-attention -> readout."""

    def __init__(self, d_model: int = 4, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = nn.Linear(1, d_model)  # (batch, seq, 1) -> (batch, seq, d_model)
            self.attn = SelfAttention(d_model)
            self.out = nn.Linear(d_model, 1)  # (batch, seq, d_model) -> (batch, seq, 1)
        with torch.no_grad():  # small W_q, W_k: at first every position looks at all positions about evenly
            self.attn.q.weight.mul_(0.1)
            self.attn.k.weight.mul_(0.1)

    def attention(self, X):
        """The attention weights (batch, seq, seq) for the sequences X (batch, seq, 1)."""
        return self.attn.attention(self.embed(X))

    def forward(self, X):
        return self.out(self.attn(self.embed(X)))  # (batch, seq, 1)


def make_max_data(n: int = 64, length: int = 6, seed: int = 0):
    """Sequences of whole numbers 0-9, X (n, length, 1); the answer y (n, length, 1) is each one's maximum."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 2:
        raise BilingualError(f"系列の長さは 2 以上の整数です({length!r})。",
                             f"The sequence length must be a whole number of at least 2 (got {length!r}).")
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(0, 10, (n, length, 1), generator=g).float()  # (batch, seq, 1)
    y = X.amax(dim=1, keepdim=True).expand(-1, length, -1).contiguous()  # (batch, seq, 1)
    return X, y


def qkv_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of W_q, W_k, W_v of the first SelfAttention inside model."""
    layer = next((m for m in model.modules() if isinstance(m, SelfAttention)), None)
    if layer is None:
        raise BilingualError("このモデルには SelfAttention の層がありません。",
                             "This model has no SelfAttention layer.")
    return {name: getattr(layer, name).weight.detach().clone() for name in ("q", "k", "v")}


def attention_figure(tokens, before, after) -> Figure:
    """Attention weights (seq, seq) for one sequence of tokens, before and after training, as heatmaps."""
    _same_shape(before, after, "アテンション", "attention weights")
    n = len(tokens)
    if before.shape != (n, n):
        raise BilingualError(f"アテンションの形は ({n}, {n}) です({tuple(before.shape)})。",
                             f"The attention weights must have shape ({n}, {n}) (got {tuple(before.shape)}).")
    labels = [f"{float(t):g}" for t in tokens]
    fig = Figure(figsize=(6.5, 3.5))
    axes = fig.subplots(1, 2)
    for ax, weights, ja, en in ((axes[0], before, "学習前", "before training"),
                                (axes[1], after, "学習後", "after training")):
        image = ax.imshow(_numpy(weights), cmap=ATTENTION_CMAP, vmin=0, vmax=1)
        ax.set_xticks(range(n), labels)
        ax.set_yticks(range(n), labels)
        ax.grid(False)
        ax.set_title(bi(ja, en), fontsize=10)
        ax.set_xlabel(bi("見られる位置(Key)", "looked at (key)"), fontsize=9)
    axes[0].set_ylabel(bi("見る位置(Query)", "looking (query)"), fontsize=9)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label=bi("注目の重み", "attention weight"))
    return fig


# --- Part A3: every element of a matrix is a weight ---------------------------------------------------

def changed_elements(before, after) -> int:
    """How many elements differ between two copies of one weight matrix."""
    _same_shape(before, after, "重み", "weights")
    return int((before != after).sum())


def matrix_change_figure(before, after) -> Figure:
    """One weight matrix before and after a step, and the change of every element, numbers written in."""
    _same_shape(before, after, "重み", "weights")
    if before.dim() != 2:
        raise BilingualError(f"重み行列は2次元 (出力, 入力) です({tuple(before.shape)})。",
                             f"A weight matrix has two dimensions, (outputs, inputs) (got {tuple(before.shape)}).")
    b, a = _numpy(before), _numpy(after)
    change = a - b
    fig = Figure(figsize=(6.8, 2.8))
    axes = fig.subplots(1, 3)
    limit = float(max(abs(b).max(), abs(a).max())) or 1.0
    limit_change = float(abs(change).max()) or 1.0
    panels = ((b, limit, "更新前 W", "W before", "{:.2f}"), (a, limit, "更新後 W", "W after", "{:.2f}"),
              (change, limit_change, "変化 ΔW ×1000", "change ΔW ×1000", "{:.1f}"))
    for ax, (values, lim, ja, en, fmt) in zip(axes, panels, strict=True):
        ax.imshow(values, cmap=WEIGHT_CMAP, vmin=-lim, vmax=lim)
        shown = values * 1000 if ax is axes[2] else values
        for (r, c), v in np.ndenumerate(shown):
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9)
        _bare(ax)
        ax.set_title(bi(ja, en, sep="\n"), fontsize=9)
    n = changed_elements(before, after)
    fig.suptitle(bi(f"{b.size} 個中 {n} 個の要素が変わった", f"{n} of {b.size} elements changed"), fontsize=10)
    fig.tight_layout()
    return fig
