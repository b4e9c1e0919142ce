"""Notebook 07: the noisy data, polynomial models of any degree, fitting them and early stopping."""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn

from ..engine import data
from ..engine.loop import History, train
from ..engine.text import BilingualError

NOISE = 0.2  # how far each point strays from the rule y = sin(x)
LOW, HIGH = -3.0, 3.0  # the x range of data.make_curve
POOL = 100  # points drawn per set; a smaller set is the first n of them, so a larger one only adds
LR = 0.1
OPTIMIZER = "momentum"
NUM_EPOCHS = 200
MAX_DEGREE = 30
SEED = 8  # the draw of points used throughout: on it underfitting, a good fit and overfitting are all plain


def make_data(n_train: int = 15, n_val: int = 50, noise: float = NOISE, seed: int = SEED):
    """Training and validation points drawn separately from one rule, y = sin(x) + noise.

    Returns X (n_train, 1), y (n_train, 1), X_val (n_val, 1), y_val (n_val, 1).
    """
    for name, n in (("n_train", n_train), ("n_val", n_val)):
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
            raise BilingualError(f"{name} は 0 以上の整数です({n!r} が渡されました)。",
                                 f"{name} must be a whole number, 0 or more (got {n!r}).")
    X, y = data.make_curve(max(n_train, POOL), noise=noise, low=LOW, high=HIGH, seed=seed)
    # Another seed: validation points are new questions from the same rule, never training ones.
    X_val, y_val = data.make_curve(max(n_val, POOL), noise=noise, low=LOW, high=HIGH, seed=seed + 1000)
    return X[:n_train], y[:n_train], X_val[:n_val], y_val[:n_val]


def make_test_data(n: int = 50, noise: float = NOISE, seed: int = SEED):
    """Test points from the same rule, drawn apart from both the training and the validation points.

    Used once, for the final verdict, after every choice (epoch, degree) has been made with the
    validation data. Returns X_test (n, 1), y_test (n, 1).
    """
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise BilingualError(f"n は 1 以上の整数です({n!r} が渡されました)。",
                             f"n must be a whole number, 1 or more (got {n!r}).")
    X_test, y_test = data.make_curve(max(n, POOL), noise=noise, low=LOW, high=HIGH, seed=seed + 2000)
    return X_test[:n], y_test[:n]


def _check_degree(degree) -> int:
    if isinstance(degree, bool) or not isinstance(degree, Integral) or not 1 <= degree <= MAX_DEGREE:
        raise BilingualError(f"次数は 1 から {MAX_DEGREE} までの整数です({degree!r} が渡されました)。",
                             f"The degree must be a whole number from 1 to {MAX_DEGREE} (got {degree!r}).")
    return int(degree)


def poly_features(X, degree: int):
    """(batch, 1) -> (batch, degree): the Legendre polynomials P1 … P_degree of x / 3, scaled.

    They describe the same curves as x, x², …, x^degree, but over the data each column has about the
    same size (mean square 1), so gradient descent learns all of them with one learning rate.
    """
    degree = _check_degree(degree)
    if not isinstance(X, torch.Tensor) or X.dim() != 2 or X.shape[1] != 1:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise BilingualError(f"X は形 (バッチ, 1) のテンソルにします({shape} が渡されました)。",
                             f"X must be a tensor of shape (batch, 1) (got {shape}).")
    x = X / HIGH  # (batch, 1), now between -1 and 1
    columns = [torch.ones_like(x), x]
    for k in range(1, degree):  # Bonnet's recursion: (k + 1) P_{k+1} = (2k + 1) x P_k - k P_{k-1}
        columns.append(((2 * k + 1) * x * columns[k] - k * columns[k - 1]) / (k + 1))
    scale = torch.sqrt(2 * torch.arange(1, degree + 1, dtype=x.dtype, device=x.device) + 1)  # (degree,)
    return torch.cat(columns[1:degree + 1], dim=1) * scale  # (batch, degree); the constant is nn.Linear's bias


def polynomial_model(degree: int) -> nn.Linear:
    """nn.Linear(degree, 1) with every weight 0: each run starts from the same flat line y = 0."""
    model = nn.Linear(_check_degree(degree), 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    return model


def fit(degree: int, X, y, X_val=None, y_val=None, *, num_epochs: int = NUM_EPOCHS, lr: float = LR,
        callback=None, device=None):
    """Train a polynomial of this degree with helpers.train (momentum SGD, full batch): (model, history)."""
    model = polynomial_model(degree)
    history = train(model, poly_features(X, degree), y, loss_fn=nn.MSELoss(), lr=lr, num_epochs=num_epochs,
                    optimizer=OPTIMIZER, X_val=None if X_val is None else poly_features(X_val, degree),
                    y_val=y_val, device=device, callback=callback)
    return model, history


def predict(model: nn.Module, degree: int, X):
    """The model's answers for X (batch, 1), as a (batch, 1) tensor on the CPU."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        return model(poly_features(X, degree).to(device)).cpu()  # (batch, 1)


# --- Early stopping -----------------------------------------------------------------------------

def _check_patience(patience) -> int:
    if isinstance(patience, bool) or not isinstance(patience, Integral) or patience < 1:
        raise BilingualError(f"patience は 1 以上の整数です({patience!r} が渡されました)。",
                             f"patience must be a whole number of at least 1 (got {patience!r}).")
    return int(patience)


class EarlyStopping:
    """A callback for helpers.train: stop once the validation loss has gone `patience` epochs without a new best.

    Given the model, it also keeps a copy of the weights from the best epoch and puts them back when it
    stops, so the model ends at its best epoch rather than `patience` epochs later. Without validation
    data History.best_epoch follows the training loss instead.
    """

    def __init__(self, patience: int = 20, model: nn.Module | None = None):
        self.patience = _check_patience(patience)
        self.model = model
        self.best_weights: dict | None = None

    def __call__(self, epoch: int, history: History) -> bool:
        if self.model is not None and history.best_epoch == epoch:  # a new best: remember these weights
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if epoch - history.best_epoch < self.patience:
            return False
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        return True  # True stops training


def early_stopping(patience: int = 20, model: nn.Module | None = None) -> EarlyStopping:
    """A helpers.train callback that stops after `patience` epochs without a new best validation loss.

    With model=..., the model's weights from the best epoch are put back when training stops.
    """
    return EarlyStopping(patience, model)


def stop_epoch(val_losses, patience: int) -> int:
    """The epoch (from 1) at which early_stopping(patience) stops on these losses; the last if never."""
    patience = _check_patience(patience)
    best, best_epoch = float("inf"), 0
    for epoch, value in enumerate(val_losses, start=1):
        if value < best:  # strictly lower, as History.best_epoch keeps the first of equal losses
            best, best_epoch = value, epoch
        if epoch - best_epoch >= patience:
            return epoch
    return len(val_losses)


def fit_capacities(degrees, X, y, X_val, y_val, *, num_epochs: int = NUM_EPOCHS, lr: float = LR,
                   device=None) -> dict:
    """One run per degree on the same data: degree -> (model, history)."""
    return {degree: fit(degree, X, y, X_val, y_val, num_epochs=num_epochs, lr=lr, device=device)
            for degree in degrees}
