"""Step 2, forward pass: the model answers with the weights it has now (notebook 02)."""

from __future__ import annotations

from torch import nn

from .text import BilingualError


def expected_features(model: nn.Module) -> int | None:
    """How many input features the model's first layer takes (None when it does not say)."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            return module.in_features
        if isinstance(module, nn.modules.conv._ConvNd):
            return module.in_channels
    return None


def check_input(model: nn.Module, X) -> None:
    """Raise a bilingual error naming the expected shape when X does not fit the model's first layer."""
    features = expected_features(model)
    first = next((m for m in model.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))), None)
    if features is None or first is None:
        return
    if isinstance(first, nn.Linear) and X.shape[-1] != features:
        raise BilingualError(
            f"入力の形が合いません。このモデルは (バッチ, {features}) を受け取りますが、形 {tuple(X.shape)} "
            f"が渡されました。",
            f"The input does not fit: this model takes shape (batch, {features}) but got {tuple(X.shape)}.")
    if not isinstance(first, nn.Linear) and (X.dim() < 3 or X.shape[1] != features):
        raise BilingualError(
            f"入力の形が合いません。この畳み込みは (バッチ, {features}, 高さ, 幅) を受け取りますが、"
            f"形 {tuple(X.shape)} が渡されました。",
            f"The input does not fit: this convolution takes shape (batch, {features}, height, width) "
            f"but got {tuple(X.shape)}.")


def forward(model: nn.Module, X):
    """Step 2: the model's answer for X with its current weights."""
    return model(X)  # (batch, outputs)
