"""The code exercises of notebooks 05 and 06 (one SGD step, the training loop, counting updates);
code_exercises re-exports them, so every exercise is still found in one place."""

from __future__ import annotations

import math

import torch
from torch import nn

from .exercises import CodeExercise, Mistake

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
