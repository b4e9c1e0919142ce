"""Every code exercise of notebooks 01–06 in one place: the cases, the typical mistakes (as wrong code),
the hints and the solutions, so a teacher finds every answer here (05 and 06 in code_exercises_loop)."""

from __future__ import annotations

import torch

from .code_exercises_loop import COUNT_UPDATES, SGD_STEP, TRAIN_LOOP  # noqa: F401  (05 and 06)
from .exercises import CodeExercise, Mistake, tensor_shape_reason

# --- 01: cut the data into batches ------------------------------------------------------------------


def _split_batches(X, y, batch_size):
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]


def _batches_drop_last(X, y, batch_size):
    return [(X[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size])
            for i in range(len(X) // batch_size)]


def _batches_y_whole(X, y, batch_size):
    return [(X[i:i + batch_size], y) for i in range(0, len(X), batch_size)]


def _batches_step_one(X, y, batch_size):
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X) - batch_size + 1)]


def _batch_case(n, batch_size):
    def case(fn):
        X = torch.arange(n * 2, dtype=torch.float32).reshape(n, 2)  # (batch, features)
        y = torch.arange(n, dtype=torch.float32).reshape(n, 1) * 10  # (batch, 1)
        out = fn(X, y, batch_size)
        return [tuple(pair) for pair in out] if isinstance(out, (list, tuple)) else out
    return case


SPLIT_BATCHES = CodeExercise(
    name="split_batches",
    cases=[_batch_case(10, 3), _batch_case(12, 4), _batch_case(5, 5), _batch_case(7, 2)],
    reference=_split_batches,
    mistakes=[
        Mistake(_batches_drop_last,
                "最後の小さなバッチが抜けています。割り切れないときも、残りの行を1つのバッチにします。",
                "The last, smaller batch is missing: when the rows do not divide evenly, the rest form one batch."),
        Mistake(_batches_y_whole,
                "X は切れていますが、y が全部のままです。y も X と同じ行で切ります。",
                "X is cut but y is not: cut y at the same rows as X."),
        Mistake(_batches_step_one,
                "バッチが重なっています。次のバッチは batch_size 行先から始めます(range の3つ目の数)。",
                "The batches overlap: the next batch starts batch_size rows later (range's third number)."),
    ],
    hint_text=("range(0, len(X), batch_size) で各バッチの最初の行が得られます。X[i:i + batch_size] は、"
               "終わりがはみ出しても残りの行だけを返します。",
               "range(0, len(X), batch_size) gives the first row of each batch, and X[i:i + batch_size] "
               "returns just the remaining rows when the end runs past the data."),
    solution_code="""
def split_batches(X, y, batch_size):
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]
""",
)

# --- 02: the forward pass of nn.Linear ------------------------------------------------------------


def _linear(X, W, b):
    return X @ W.T + b  # (batch, in) @ (in, out) + (out,)


def _linear_no_bias(X, W, b):
    return X @ W.T


def _linear_case(X, W, b):
    return lambda fn: fn(torch.tensor(X), torch.tensor(W), torch.tensor(b))


LINEAR = CodeExercise(
    name="linear",
    cases=[_linear_case([[3.0, 4.0]], [[2.0, -1.0]], [0.5]),
           _linear_case([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]], [[1.0, 0.0, 2.0], [-1.0, 1.0, 0.0]], [0.1, -0.2]),
           _linear_case([[1.0, 1.0, 1.0], [2.0, 0.0, -2.0], [0.5, 0.5, 0.5], [1.0, -1.0, 0.0]],
                        [[0.5, -0.5, 1.0], [2.0, 0.0, 0.0]], [1.0, 0.0])],
    reference=_linear,
    mistakes=[
        Mistake(_linear_no_bias, "バイアス b が足されていません。X @ W.T のあとに + b をつけます。",
                "The bias b is missing: add + b after X @ W.T."),
    ],
    hint_text=("W の形は (出力の数, 入力の数) です。X (バッチ, 入力の数) に掛けるには W.T(転置)を使い、"
               "最後にバイアス b を足します。",
               "W has shape (outputs, inputs). To multiply X (batch, inputs) by it, use W.T (the transpose), "
               "then add the bias b."),
    solution_code="""
def linear(X, W, b):
    return X @ W.T + b  # (batch, in) @ (in, out) + (out,) -> (batch, out)
""",
    describe=tensor_shape_reason,
    error_hints={"cannot be multiplied": (
        "行列の形が合いません。W は (出力, 入力) の形なので、X @ W ではなく X @ W.T にします。",
        "The shapes do not fit: W is (outputs, inputs), so write X @ W.T, not X @ W.")},
)

# --- 03: the mean squared error ---------------------------------------------------------------------


def _mse(prediction, target):
    target = target.reshape(prediction.shape)  # (n,) -> (n, 1): no broadcasting to (n, n)
    return ((prediction - target) ** 2).mean()


def _mse_sum(prediction, target):
    return ((prediction - target.reshape(prediction.shape)) ** 2).sum()


def _mae(prediction, target):
    return (prediction - target.reshape(prediction.shape)).abs().mean()


def _mse_mean_first(prediction, target):
    return (prediction - target.reshape(prediction.shape)).mean() ** 2


def _mse_broadcast(prediction, target):
    return ((prediction - target) ** 2).mean()


def _mse_case(prediction, target):
    return lambda fn: fn(torch.tensor(prediction), torch.tensor(target))


MSE = CodeExercise(
    name="mse",
    cases=[_mse_case([5.0, 2.0, 6.0, 9.0], [8.0, 2.0, 5.0, 7.0]),
           _mse_case([[1.0], [2.0], [4.0]], [[1.5], [2.0], [3.0]]),
           _mse_case([[0.5], [-1.0], [2.0], [3.0]], [1.0, -2.0, 2.0, 0.0])],  # (4, 1) against (4,)
    reference=_mse,
    mistakes=[
        Mistake(_mse_sum, "2乗の合計になっています。平均にするには .sum() ではなく .mean() を使います。",
                "That is the sum of the squares: use .mean(), not .sum(), for the average."),
        Mistake(_mae, "絶対値の平均(MAE)になっています。abs() ではなく 2乗(** 2)にします。",
                "That is the mean absolute error (MAE): square the misses (** 2) instead of abs()."),
        Mistake(_mse_mean_first, "平均してから2乗しています。1つずつ2乗してから平均します。",
                "You average first and square afterwards: square each miss, then average."),
        Mistake(_mse_broadcast,
                "3つ目の例は予測が (4, 1)、正解ラベルが (4,) です。そのまま引くと (4, 4) の表に広がります"
                "(ブロードキャスト)。先に target.reshape(prediction.shape) で形をそろえます。",
                "In the third case the prediction is (4, 1) and the target (4,): subtracting them broadcasts "
                "to a (4, 4) table. First make them match: target.reshape(prediction.shape)."),
    ],
    hint_text=("外れ prediction - target を1つずつ2乗し、.mean() で平均します。形がちがうときは、"
               "先に target を prediction と同じ形にします。",
               "Square each miss, prediction - target, and average with .mean(). When the shapes differ, "
               "first give target the prediction's shape."),
    solution_code="""
def mse(prediction, target):
    target = target.reshape(prediction.shape)  # (n,) -> (n, 1): no broadcasting
    return ((prediction - target) ** 2).mean()
""",
    describe=lambda result, expected: (
        ("1つの数(形 () のテンソル)を返します。", "Return one number (a tensor of shape ()).")
        if isinstance(result, torch.Tensor) and result.dim() != 0 else tensor_shape_reason(result, expected)),
)

# --- 04: a gradient with requires_grad --------------------------------------------------------------


def _gradient(w, x, y):
    w = torch.tensor(w, requires_grad=True)
    loss = ((w * x - y) ** 2).mean()
    loss.backward()
    return w.grad


def _gradient_returns_loss(w, x, y):
    w = torch.tensor(w, requires_grad=True)
    return ((w * x - y) ** 2).mean().detach()


def _gradient_of_sum(w, x, y):
    w = torch.tensor(w, requires_grad=True)
    ((w * x - y) ** 2).sum().backward()
    return w.grad


def _gradient_case(w, x, y):
    return lambda fn: fn(w, torch.tensor(x), torch.tensor(y))


GRADIENT = CodeExercise(
    name="gradient",
    cases=[_gradient_case(1.0, [2.0], [6.0]), _gradient_case(0.5, [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]),
           _gradient_case(-1.0, [1.0, -1.0], [0.0, 3.0])],
    reference=_gradient,
    mistakes=[
        Mistake(_gradient_returns_loss, "返したのは損失の値です。loss.backward() のあとの w.grad を返します。",
                "That is the loss itself: return w.grad, after loss.backward()."),
        Mistake(_gradient_of_sum, "損失が合計になっています。MSE なので .mean() で平均します。",
                "The loss is a sum: the MSE averages with .mean()."),
    ],
    hint_text=("w = torch.tensor(w, requires_grad=True) にしてから損失を計算し、loss.backward() を呼ぶと、"
               "w.grad に勾配が入ります。",
               "Make w = torch.tensor(w, requires_grad=True), compute the loss, call loss.backward(), "
               "and w.grad holds the gradient."),
    solution_code="""
def gradient(w, x, y):
    w = torch.tensor(w, requires_grad=True)
    loss = ((w * x - y) ** 2).mean()
    loss.backward()
    return w.grad
""",
    describe=tensor_shape_reason,
    error_hints={"does not require grad": (
        "w に requires_grad=True がついていないので、backward() で勾配を計算できません。",
        "w has no requires_grad=True, so backward() cannot compute its gradient.")},
)
