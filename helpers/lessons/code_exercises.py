"""Every code exercise of notebooks 01–06 in one place: the cases, the typical mistakes (as wrong code),
the hints and the solutions, so a teacher finds every answer here."""

from __future__ import annotations

import math

import torch
from torch import nn

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

# --- 05: one SGD step by hand -----------------------------------------------------------------------


def _sgd_step(parameters, lr):
    with torch.no_grad():
        for w in parameters:
            w -= lr * w.grad


def _sgd_plus(parameters, lr):
    with torch.no_grad():
        for w in parameters:
            w += lr * w.grad


def _sgd_no_lr(parameters, lr):
    with torch.no_grad():
        for w in parameters:
            w -= w.grad


def _sgd_rebinds(parameters, lr):
    with torch.no_grad():
        for w in parameters:
            w = w - lr * w.grad  # the typical mistake: a new tensor, the weight unchanged


def _sgd_case(values, grads, lr):
    def case(fn):
        parameters = [torch.tensor(v, requires_grad=True) for v in values]
        for w, g in zip(parameters, grads, strict=True):
            w.grad = torch.tensor(g)
        fn(parameters, lr)
        return tuple(w.detach().clone() for w in parameters)
    return case


SGD_STEP = CodeExercise(
    name="sgd_step",
    cases=[_sgd_case([[2.0]], [[0.5]], 0.1), _sgd_case([[1.0, -1.0], [0.0]], [[0.2, -0.4], [1.0]], 0.5),
           _sgd_case([[3.0, 3.0, 3.0]], [[-1.0, 0.0, 2.0]], 0.01)],
    reference=_sgd_step,
    mistakes=[
        Mistake(_sgd_plus, "重みが勾配と同じ向きに動いています。損失を下げるには引き算です: w -= lr * w.grad",
                "The weights move with the gradient: to lower the loss, subtract: w -= lr * w.grad"),
        Mistake(_sgd_no_lr, "学習率が掛かっていません。一歩は lr * w.grad です。",
                "The learning rate is missing: the step is lr * w.grad."),
        Mistake(_sgd_rebinds,
                "重みが変わっていません。w = w - ... は新しいテンソルを作るだけです。"
                "その場で書きかえる w -= ... を使います。",
                "The weights did not change: w = w - ... only makes a new tensor. Update in place with w -= ..."),
    ],
    hint_text=("with torch.no_grad(): の中で、各 w を w -= lr * w.grad とその場で書きかえます。",
               "Inside with torch.no_grad():, update each w in place: w -= lr * w.grad."),
    solution_code="""
def sgd_step(parameters, lr):
    with torch.no_grad():  # the update is not part of the next loss's graph
        for w in parameters:
            w -= lr * w.grad
""",
    error_hints={"leaf Variable that requires grad": (
        "勾配を記録しているテンソルは、そのままでは書きかえられません。with torch.no_grad(): の中で更新します。",
        "A tensor that records gradients cannot be changed in place as is: update inside with torch.no_grad():.")},
)

# --- 05: the training loop --------------------------------------------------------------------------


def _train_loop(model, X, y, loss_fn, optimizer, num_epochs):
    for _ in range(num_epochs):
        prediction = model(X)
        loss = loss_fn(prediction, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _loop_no_zero_grad(model, X, y, loss_fn, optimizer, num_epochs):
    for _ in range(num_epochs):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()


def _loop_no_step(model, X, y, loss_fn, optimizer, num_epochs):
    for _ in range(num_epochs):
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()


def _loop_once(model, X, y, loss_fn, optimizer, num_epochs):
    loss = loss_fn(model(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _loop_one_short(model, X, y, loss_fn, optimizer, num_epochs):
    for _ in range(1, num_epochs):
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _loop_case(seed, n, num_epochs, lr):
    def case(fn):
        generator = torch.Generator().manual_seed(seed)
        X = torch.randn(n, 2, generator=generator)  # (batch, features): data the notebook never used
        y = X @ torch.tensor([[1.5], [-0.5]]) + 0.1 * torch.randn(n, 1, generator=generator)  # (batch, 1)
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        fn(model, X, y, nn.MSELoss(), optimizer, num_epochs)
        return tuple(p.detach().clone() for p in model.parameters())
    return case


TRAIN_LOOP = CodeExercise(
    name="train_loop",
    cases=[_loop_case(11, 16, 5, 0.1), _loop_case(12, 9, 3, 0.3), _loop_case(13, 25, 8, 0.05)],
    reference=_train_loop,
    mistakes=[
        Mistake(_loop_no_zero_grad,
                "optimizer.zero_grad() がありません。backward() は勾配を足していくので、前の回の勾配が残ります。",
                "optimizer.zero_grad() is missing: backward() adds to .grad, so old gradients pile up."),
        Mistake(_loop_no_step,
                "重みが変わっていません。loss.backward() のあとに optimizer.step() を呼んでいますか"
                "(zero_grad は backward の前に)?",
                "The weights did not change: do you call optimizer.step() after loss.backward() "
                "(and zero_grad before backward)?"),
        Mistake(_loop_once, "1回しか更新していません。for _ in range(num_epochs): で5つのステップをくり返します。",
                "It updates only once: repeat the five steps with for _ in range(num_epochs):."),
        Mistake(_loop_one_short, "1回少なく回っています。range(num_epochs) はちょうど num_epochs 回です。",
                "It runs one epoch short: range(num_epochs) runs exactly num_epochs times."),
    ],
    hint_text=("エポックごとに: prediction = model(X)、loss = loss_fn(prediction, y)、optimizer.zero_grad()、"
               "loss.backward()、optimizer.step()。",
               "Each epoch: prediction = model(X), loss = loss_fn(prediction, y), optimizer.zero_grad(), "
               "loss.backward(), optimizer.step()."),
    solution_code="""
def train_loop(model, X, y, loss_fn, optimizer, num_epochs):
    for _ in range(num_epochs):           # one epoch: all the data, once
        prediction = model(X)             # 2 forward pass     (X is 1, the input)
        loss = loss_fn(prediction, y)     # 3 loss
        optimizer.zero_grad()             # 4 backpropagation: clear, then fill .grad
        loss.backward()
        optimizer.step()                  # 5 update
""",
    seconds=5.0,
)

# --- 06: how many updates -------------------------------------------------------------------------


def _count_updates(n_rows, batch_size, num_epochs):
    return math.ceil(n_rows / batch_size) * num_epochs


def _count_floor(n_rows, batch_size, num_epochs):
    return n_rows // batch_size * num_epochs


def _count_one_epoch(n_rows, batch_size, num_epochs):
    return math.ceil(n_rows / batch_size)


def _count_fraction(n_rows, batch_size, num_epochs):
    return n_rows / batch_size * num_epochs


def _args_case(*args):
    return lambda fn: fn(*args)


COUNT_UPDATES = CodeExercise(
    name="count_updates",
    cases=[_args_case(200, 32, 10), _args_case(30, 8, 100), _args_case(64, 16, 3), _args_case(5, 10, 7)],
    reference=_count_updates,
    mistakes=[
        Mistake(_count_floor, "切り捨てになっています。最後の小さなバッチも1回の更新です(切り上げ: math.ceil)。",
                "That rounds down: the last, smaller batch is an update too (round up: math.ceil)."),
        Mistake(_count_fraction, "割り算のままです。バッチの数は整数なので、切り上げてから掛けます。",
                "That is a plain division: the number of batches is whole, so round up before multiplying."),
        Mistake(_count_one_epoch, "1エポックぶんだけです。エポック数を掛けます。",
                "That is one epoch only: multiply by the number of epochs."),
    ],
    hint_text=("1エポックのバッチ数は math.ceil(n_rows / batch_size)。それがエポックの数だけくり返されます。",
               "One epoch has math.ceil(n_rows / batch_size) batches, repeated once per epoch."),
    solution_code="""
def count_updates(n_rows, batch_size, num_epochs):
    return math.ceil(n_rows / batch_size) * num_epochs
""",
)
