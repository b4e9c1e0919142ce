"""Notebook 08, training vs inference: the model and batch measured, the memory figure, the
comparison table and the exercises. The measurements are in measure; notebook 08 reaches them
through this module."""

from __future__ import annotations

import functools

import torch
from matplotlib.figure import Figure
from torch import nn

from ..engine import backprop, forward, loss, update
from ..engine.text import BilingualError, bi, labelled
from .feedback import NO_ANSWER, Feedback, correct, hint

# Notebook 08 reaches everything it uses through this module (`lesson` there).
from .measure import (  # noqa: F401
    count_graph_nodes,
    gradient_bytes,
    graph_nodes,
    optimizer_state_bytes,
    parameter_bytes,
    peak_cuda_bytes,
    peak_live_bytes,
    saved_activation_bytes,
    time_inference,
    time_training_step,
    weights_checksum,
)
from .overview import check_situations
from .style import role, series

BATCH = 256  # rows per batch of the timing and memory model
WIDTH = 512  # input features and hidden units of the timing and memory model

# The four things that sit in memory while a model runs: key -> (日本語, English).
MEMORY_PARTS = {
    "weights": ("重み", "weights"),
    "gradients": ("勾配", "gradients"),
    "optimizer": ("オプティマイザの状態", "optimizer state"),
    # training: saved for backpropagation; inference: the most alive at one moment (peak_live_bytes)
    "activations": ("活性値", "activations"),
}


# --- The model and data the timing and memory rows use -----------------------------------------

def make_mlp(features: int = WIDTH, width: int = WIDTH, depth: int = 2, seed: int = 0) -> nn.Sequential:
    """A plain MLP: `depth` hidden layers of `width` units with ReLU, one output."""
    layers: list[nn.Module] = []
    size = features
    with torch.random.fork_rng(devices=[]):  # the same weights every time, without touching the global seed
        torch.manual_seed(seed)
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.ReLU()]
            size = width
        layers.append(nn.Linear(size, 1))
        return nn.Sequential(*layers)


def make_batch(batch: int = BATCH, features: int = WIDTH, seed: int = 0):
    """Random questions X (batch, features) and random targets y (batch, 1), only for timing and memory."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(batch, features, generator=g)  # (batch, features)
    y = torch.randn(batch, 1, generator=g)  # (batch, 1)
    return X, y


def _check_parts(parts, name: str) -> dict:
    if not isinstance(parts, dict) or set(parts) - set(MEMORY_PARTS):
        raise BilingualError(
            f"{name} は {', '.join(MEMORY_PARTS)} をキーにした辞書(値はバイト数)にします。",
            f"{name} must be a dict with keys among {', '.join(MEMORY_PARTS)} (values in bytes).")
    values = {key: parts.get(key, 0) for key in MEMORY_PARTS}
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in values.values()):
        raise BilingualError(f"{name} のバイト数は 0 以上の数にします: {values}",
                             f"{name} must hold byte counts of at least 0: {values}")
    return values


# One colour per part, the same in both bars.
_PART_COLOURS = dict(zip(MEMORY_PARTS, series(len(MEMORY_PARTS)), strict=True))  # parts: only "not the same"


def memory_figure(training: dict, inference: dict) -> Figure:
    """Memory (MB) of training and of inference as two stacked bars, one block per part, totals on top;
    dicts map part -> bytes."""
    training = _check_parts(training, "training")
    inference = _check_parts(inference, "inference")
    fig = Figure(figsize=(6.8, 3.8))
    ax = fig.add_subplot()
    phases = ((training, "学習", "training"), (inference, "推論", "inference"))
    positions = range(len(phases))
    bottoms = [0.0] * len(phases)
    for key, (ja, en) in MEMORY_PARTS.items():
        mb = [values[key] / 1e6 for values, _, _ in phases]
        bars = ax.bar(positions, mb, 0.55, bottom=bottoms, color=_PART_COLOURS[key], edgecolor=role("paper"),
                      label=bi(ja, en))
        # each block's size inside it, where the block is tall enough to hold the number
        top = max(sum(values.values()) for values, _, _ in phases) / 1e6 or 1.0
        ax.bar_label(bars, labels=[f"{v:.2f}" if v > 0.06 * top else "" for v in mb], label_type="center",
                     fontsize=9)
        bottoms = [b + v for b, v in zip(bottoms, mb, strict=True)]
    for position, total in zip(positions, bottoms, strict=True):
        ax.text(position, total, f"{bi('合計', 'total')} {total:.2f} MB", ha="center", va="bottom", fontsize=10)
    ax.set_xticks(list(positions), [bi(ja, en) for _, ja, en in phases])
    ax.set_xlim(-0.6, len(phases) - 0.4)
    ax.set_ylabel(bi("メモリ (MB)", "memory (MB)"))
    ax.set_ylim(0, max(bottoms + [1e-6]) * 1.15)
    ax.set_title(bi("学習は推論より多くのメモリを使う", "training holds more memory than inference"),
                 fontsize=10.5)
    ax.grid(axis="x", visible=False)
    handles, labels = ax.get_legend_handles_labels()
    # beside the bars, top part first, as the blocks are stacked
    ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3)
    fig.tight_layout()
    return fig


# --- Row "analogy": the whole table with the measured numbers ----------------------------------

def comparison_table(*, loss_before: float, loss_after: float, nodes_training: int, nodes_inference: int,
                     seconds_training: float, seconds_inference: float, bytes_training: int,
                     bytes_inference: int) -> str:
    """The training-vs-inference table as Markdown, with the measured numbers in it."""
    ratio = seconds_training / seconds_inference if seconds_inference > 0 else float("inf")
    rows = [
        (bi("観点", "Aspect"), bi("学習", "Training"), bi("推論", "Inference")),
        (bi("目的", "Purpose"),
         bi(f"モデルを育てる(損失 {loss_before:.4f} → {loss_after:.4f})",
            f"grow the model (loss {loss_before:.4f} → {loss_after:.4f})"),
         bi("新しい入力に対して予測を出す", "make predictions for new inputs")),
        (bi("正解データ", "Ground truth"), bi("必要(y がないと損失が出せない)", "needed (no loss without y)"),
         bi("不要(X だけで動いた)", "not needed (ran on X alone)")),
        (bi("重み", "Weights"), bi("1ステップで指紋が変わった", "fingerprint changed after one step"),
         bi("指紋はそのまま(固定)", "fingerprint identical (frozen)")),
        (bi("計算の向き", "Direction"),
         bi(f"順伝播 + 逆伝播(グラフのノード {nodes_training} 個)",
            f"forward + backward ({nodes_training} graph nodes)"),
         bi(f"順伝播だけ(ノード {nodes_inference} 個)", f"forward only ({nodes_inference} nodes)")),
        (bi("計算コスト", "Compute cost"),
         bi(f"1ステップ {seconds_training * 1e3:.2f} ms(推論の {ratio:.1f} 倍)",
            f"{seconds_training * 1e3:.2f} ms per step ({ratio:.1f}x inference)"),
         f"{seconds_inference * 1e3:.2f} ms"),
        (bi("メモリ", "Memory"), f"{bytes_training / 1e6:.2f} MB", f"{bytes_inference / 1e6:.2f} MB"),
        (bi("たとえ", "Analogy"), bi("テスト勉強 = 間違いを直す", "studying for a test = correct your mistakes"),
         bi("本番のテスト = 覚えたことを使う", "taking the test = use what you learned")),
    ]
    lines = [f"| {' | '.join(rows[0])} |", "|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows[1:]]
    return "\n".join(lines)


# --- Exercises -----------------------------------------------------------------------------------

# key -> (statement in Japanese, in English, answer, hint in Japanese, in English)
ROW_QUESTIONS = {
    "a": ("y(正解データ)がないと動かない", "it cannot run without y (the ground truth)", "training",
          "y を読むのは損失の計算です。", "y is read by the loss."),
    "b": ("出力の grad_fn が None", "the output's grad_fn is None", "inference",
          "grad_fn は、逆伝播の計算に使うグラフの入り口です。",
          "grad_fn is the entrance to the graph that the backward pass uses."),
    "c": ("weights_checksum が前後で同じ", "weights_checksum is the same before and after", "inference",
          "重みを書きかえるのは optimizer.step() です。", "optimizer.step() is what rewrites the weights."),
    "d": ("活性値を逆伝播のために保存する", "it saves activations for backpropagation", "training",
          "保存した活性値を使うのは逆伝播です。", "Saved activations are used by backpropagation."),
    "e": ("1バッチあたりの時間が短い", "it takes less time per batch", "inference",
          "順伝播だけで済むのはどちらでしょう。", "Which phase needs the forward pass only?"),
}


def row_questions() -> None:
    """Print the statements a…e, each to be answered "training" or "inference"."""
    for key, (ja, en, *_) in ROW_QUESTIONS.items():
        print(labelled(key, ja, en))


def check_row(answers) -> Feedback:
    """Notebook 08: answers maps each statement "a"…"e" to "training"/"学習" or "inference"/"推論"."""
    return check_situations(answers, ROW_QUESTIONS, (
        "5問すべて正解です。どれも上で実際に測って確かめた性質です。",
        "All five right, and each one is a property measured above."))


_PART_WORDS = {
    "weights": "weights", "weight": "weights", "重み": "weights", "parameters": "weights",
    "gradients": "gradients", "gradient": "gradients", "grad": "gradients", "勾配": "gradients",
    "optimizer": "optimizer", "optimizer state": "optimizer", "state": "optimizer",
    "オプティマイザ": "optimizer", "オプティマイザの状態": "optimizer",
    "activations": "activations", "activation": "activations", "saved activations": "activations",
    "活性値": "activations", "保存された活性値": "activations",
}


@functools.lru_cache(maxsize=1)
def notebook_memory() -> dict[str, int]:
    """The training parts of notebook 08's memory figure: make_mlp, make_batch, Adam, one step."""
    model = make_mlp()
    X, y = make_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    activations = saved_activation_bytes(model, X)
    backprop.backward(loss.compute_loss(nn.MSELoss(), forward.forward(model, X), y), optimizer)
    update.step(optimizer)
    return {"weights": parameter_bytes(model), "gradients": gradient_bytes(model),
            "optimizer": optimizer_state_bytes(optimizer), "activations": activations}


def check_memory_order(order) -> Feedback:
    """Notebook 08: order lists the four parts of training memory, largest first."""
    if order is None:
        return hint(*NO_ANSWER)
    if isinstance(order, str) or not hasattr(order, "__iter__"):
        return hint(f"4つの名前をリストで答えます: {list(MEMORY_PARTS)}",
                    f"Answer with a list of the four names: {list(MEMORY_PARTS)}")
    names = []
    for item in order:
        name = _PART_WORDS.get(str(item).strip().lower())
        if name is None:
            return hint(f"{item!r} は使えません。使える名前: {', '.join(MEMORY_PARTS)}",
                        f"{item!r} is not one of the parts. Use: {', '.join(MEMORY_PARTS)}")
        names.append(name)
    if sorted(names) != sorted(MEMORY_PARTS):
        return hint("4つの部分を1回ずつ、全部並べてください。",
                    "List each of the four parts exactly once.")
    sizes = notebook_memory()
    for position, (larger, smaller) in enumerate(zip(names, names[1:], strict=False), start=1):
        if sizes[larger] < sizes[smaller]:
            ja_l, en_l = MEMORY_PARTS[larger]
            ja_s, en_s = MEMORY_PARTS[smaller]
            return hint(f"{position}番目の「{ja_l}」は、次の「{ja_s}」より小さいです。"
                        f"図の学習の棒を見くらべてください。",
                        f"Item {position}, {en_l}, is smaller than the next one, {en_s}. "
                        f"Compare the training bars in the figure.")
    return correct("正しい順番です。重みと勾配は同じ大きさなので、どちらが先でもかまいません。"
                   "Adam の状態は重みの約2倍です。",
                   "Right order. Weights and gradients are the same size, so either may come first; "
                   "Adam's state is about twice the weights.")


def check_adam_state(answer) -> Feedback:
    """Notebook 08: how many extra numbers Adam keeps for each weight."""
    if answer is None:
        return hint(*NO_ANSWER)
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return hint("数で答えます。例: 3", "Answer with a number, e.g. 3.")
    if answer == 2:
        return correct("2つです。勾配の移動平均(exp_avg)と、勾配の2乗の移動平均(exp_avg_sq)。"
                       "どちらも重みと同じ形なので、Adam の状態は重みのほぼ2倍です"
                       "(ほかに、重みテンソルごとの step が1つずつあります)。",
                       "Two: a running average of the gradient (exp_avg) and of its square (exp_avg_sq), "
                       "both shaped like the weight, so Adam's state is almost exactly twice the weights "
                       "(plus one step count per weight tensor).")
    if answer == 1:
        return hint("それはモーメンタム付き SGD の数です。"
                    "optimizer.state の中の、重みと同じ形のテンソルを数えてください。",
                    "That is SGD with momentum. Count the tensors in optimizer.state that have the weight's shape.")
    return hint("図の「オプティマイザの状態」を「重み」で割ってみてください。",
                "Divide the optimizer-state bar by the weights bar in the figure.")
