"""Step 3, loss: the shape check that stops a silent broadcast (notebook 03). The step itself is
`loss_fn(prediction, y)`."""

from __future__ import annotations

from torch import nn

from .text import BilingualError

# Losses that compare a prediction with a target of the very same shape.
_SAME_SHAPE = (nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.SmoothL1Loss, nn.BCEWithLogitsLoss, nn.BCELoss)


def check_shapes(loss_fn, prediction, y) -> None:
    """Raise a bilingual error when prediction and y cannot be compared by loss_fn."""
    if isinstance(loss_fn, _SAME_SHAPE) and prediction.shape != y.shape:
        raise BilingualError(
            f"予測の形 {tuple(prediction.shape)} と正解の形 {tuple(y.shape)} がちがいます。"
            f"{type(loss_fn).__name__} は同じ形どうしを比べます(正解を {tuple(prediction.shape)} に)。",
            f"The prediction has shape {tuple(prediction.shape)} but y has {tuple(y.shape)}. "
            f"{type(loss_fn).__name__} compares equal shapes: make y {tuple(prediction.shape)}.")
    if isinstance(loss_fn, nn.CrossEntropyLoss) and (prediction.dim() != 2 or y.shape != prediction.shape[:1]):
        raise BilingualError(
            f"交差エントロピーは 予測 (バッチ, クラス数) と 正解 (バッチ,) のクラス番号を比べます。"
            f"予測 {tuple(prediction.shape)}、正解 {tuple(y.shape)} が渡されました。",
            f"Cross-entropy compares a prediction of shape (batch, classes) with class numbers of shape "
            f"(batch,); got prediction {tuple(prediction.shape)} and y {tuple(y.shape)}.")


def checked_once(loss_fn):
    """loss_fn that checks its shapes on the first call only: a silent broadcast would train on wrong numbers."""
    if not callable(loss_fn):
        raise BilingualError(
            f"loss_fn は損失関数(nn.MSELoss() など)です({type(loss_fn).__name__} が渡されました)。",
            f"loss_fn must be a loss function such as nn.MSELoss() (got {type(loss_fn).__name__}).")
    first = True

    def checked(prediction, y):
        nonlocal first
        if first:
            check_shapes(loss_fn, prediction, y)
            first = False
        return loss_fn(prediction, y)

    return checked


def compute_loss(loss_fn, prediction, y):
    """Step 3: the loss, a single number (a 0-d tensor)."""
    return loss_fn(prediction, y)
