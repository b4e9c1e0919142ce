"""Step 2, forward pass: the check that X fits the model's first layer, and counting parameters
(notebook 02). The step itself is `model(X)`."""

from __future__ import annotations

from torch import nn

from .text import BilingualError


def _first_layer(model: nn.Module):
    return next((m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))), None)


def _features(layer) -> int:
    return layer.in_features if isinstance(layer, nn.Linear) else layer.in_channels


def expected_features(model: nn.Module) -> int | None:
    """How many input features the model's first layer takes (None when it does not say)."""
    first = _first_layer(model)
    return None if first is None else _features(first)


def check_input(model: nn.Module, X) -> None:
    """Raise a bilingual error naming the expected shape when X does not fit the model's first layer."""
    first = _first_layer(model)
    if first is None:
        return
    features = _features(first)
    if isinstance(first, nn.Linear) and X.shape[-1] != features:
        raise BilingualError(
            f"入力の形が合いません。このモデルは (バッチ, {features}) を受け取りますが、形 {tuple(X.shape)} "
            f"が渡されました。",
            f"The input does not fit: this model takes shape (batch, {features}) but got {tuple(X.shape)}.")
    # (batch, channels, ...) has as many dimensions as the filters' weight: 4 for Conv2d, 3 for Conv1d.
    if not isinstance(first, nn.Linear) and (X.dim() != first.weight.dim() or X.shape[1] != features):
        raise BilingualError(
            f"入力の形が合いません。この畳み込みは (バッチ, {features}, 高さ, 幅) を受け取りますが、"
            f"形 {tuple(X.shape)} が渡されました。",
            f"The input does not fit: this convolution takes shape (batch, {features}, height, width) "
            f"but got {tuple(X.shape)}.")


def forward(model: nn.Module, X):
    """Step 2: the model's answer for X with its current weights."""
    return model(X)  # (batch, outputs)


# --- Notebook 02: weights are numbers in matrices ------------------------------------------------

def count_parameters(model: nn.Module) -> int:
    """How many numbers (weights and biases) the model holds."""
    return sum(p.numel() for p in model.parameters())
