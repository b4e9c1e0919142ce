"""Notebook 11, several workers: the figures and the exercises. The worker processes are in
distributed_workers (PyTorch only, so each worker starts without figures or widgets); notebook 11
reaches them through this module."""

from __future__ import annotations

import math
from numbers import Integral
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from ..engine.text import BilingualError, bi

# Notebook 11 reaches everything it uses through this module (`lesson` there).
from .distributed_ddp import check_uneven, uneven_gradients, uneven_slices  # noqa: F401
from .distributed_workers import WorkerError, _check_world_size, choose_backend, make_model, run_workers, train_shard  # noqa: F401
from .feedback import NO_ANSWER, Feedback, as_number, correct, hint

LANE_STEPS = (("入力", "input"), ("順伝播", "forward"), ("損失", "loss"), ("逆伝播", "backprop"),
              ("更新", "update"))  # short names: five boxes share one lane


# --- Figures of notebook 11 -----------------------------------------------------------------------

def plot_data_parallel(world_size: int = 2) -> Figure:
    """Each worker's five steps as a lane; the all-reduce joins every lane between step 4 and step 5."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from .style import STEP_ROLES, role

    world_size = _check_world_size(world_size)
    if world_size > 4:
        raise BilingualError(f"図に描けるワーカーは 4 人までです({world_size})。",
                             f"The figure draws at most 4 workers (got {world_size}).")
    lane = 1.0  # height of one worker's lane
    fig = Figure(figsize=(6.8, 0.9 + 0.95 * world_size))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    ax.set_xlim(-1.75, 6.75)
    ax.set_ylim(-lane * world_size - 0.15, 0.8)
    centres = [0.0, 1.0, 2.0, 3.0, 5.3]  # a gap between step 4 and step 5 holds the all-reduce
    width, height = 0.84, 0.6
    bar_left, bar_right = 3.7, 4.6
    arrow = {"arrowstyle": "-|>", "mutation_scale": 10, "color": role("muted")}
    for rank in range(world_size):
        y = -lane * (rank + 0.5)
        ax.text(-0.55, y + 0.15, bi(f"ワーカー {rank}", f"worker {rank}", sep="\n"), ha="right", va="center",
                fontsize=9)
        ax.text(-0.55, y - 0.27, bi(f"データの 1/{world_size}", f"1/{world_size} of the data", sep="\n"),
                ha="right", va="center", fontsize=9, color=role("ink"))
        for i, (x, (ja, en)) in enumerate(zip(centres, LANE_STEPS, strict=True)):
            colour = role(STEP_ROLES[i])
            ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                        boxstyle="round,pad=0.02,rounding_size=0.08", facecolor=colour,
                                        alpha=0.18, edgecolor=colour, linewidth=1.5))
            name = bi(ja, en, sep="\n")
            ax.text(x, y, f"{i + 1}\n{name}", ha="center", va="center", fontsize=9)
        for x0, x1 in zip(centres[:3], centres[1:4], strict=True):
            ax.add_patch(FancyArrowPatch((x0 + width / 2, y), (x1 - width / 2, y), **arrow))
        ax.add_patch(FancyArrowPatch((centres[3] + width / 2, y), (bar_left, y), **arrow))
        ax.add_patch(FancyArrowPatch((bar_right, y), (centres[4] - width / 2, y), **arrow))
        ax.text(centres[4] + width / 2 + 0.12, y, bi("同じ重み", "same weights", sep="\n"), ha="left",
                va="center", fontsize=9, color=role("ink"))
    # The all-reduce: one bar across every lane, where the workers wait for each other.
    ax.add_patch(FancyBboxPatch((bar_left, -lane * world_size + 0.12), bar_right - bar_left,
                                lane * world_size - 0.24, boxstyle="round,pad=0.02,rounding_size=0.1",
                                facecolor=role("ink"), alpha=0.08, edgecolor=role("ink"), linewidth=1.5))
    ax.text((bar_left + bar_right) / 2, -lane * world_size / 2,
            "all-reduce\n\n" + bi("勾配を\n平均", "average\nthe\ngradients", sep="\n\n"),
            ha="center", va="center", fontsize=9)
    ax.text(2.6, 0.4, bi("1〜4 は各自のデータで。勾配を平均してから、5 は全員が同じ更新",
                         "steps 1-4 on each worker's own rows; after the average, the same step 5 everywhere",
                         sep="\n"), ha="center", va="center", fontsize=9)
    return fig


def plot_worker_losses(worker_losses, single_losses) -> Figure:
    """Each worker's loss on its own slice, their average, and one process's loss on all the data."""
    if not worker_losses or any(len(w) != len(single_losses) for w in worker_losses):
        raise BilingualError("どのワーカーの損失も、1プロセスの損失と同じエポック数だけ必要です。",
                             "Every worker's losses need as many epochs as the single process's losses.")
    from matplotlib.figure import Figure

    from .style import role, series

    fig = Figure(figsize=(6.5, 3.6))
    # the workers only need to differ, from each other and from the average and the single process
    workers = series(len(worker_losses), avoid=(role("training"), role("truth")))
    ax = fig.add_subplot()
    epochs = range(1, len(single_losses) + 1)
    for rank, losses in enumerate(worker_losses):
        ax.plot(epochs, losses, color=workers[rank], linewidth=1.5, alpha=0.8,
                label=bi(f"ワーカー {rank}(自分の行だけ)", f"worker {rank} (its own rows)"))
    average = [sum(values) / len(values) for values in zip(*worker_losses, strict=True)]
    ax.plot(epochs, average, color=role("training"), linewidth=4, alpha=0.35,
            label=bi("ワーカーの平均", "average of the workers"))
    ax.plot(epochs, single_losses, color=role("truth"), linewidth=1.2, linestyle="--",
            label=bi("1プロセス・全データ", "one process, all data"))
    ax.set_xlabel(bi("エポック", "epoch"))
    ax.set_ylabel(bi("損失", "loss"))
    ax.set_yscale("log")  # the small gaps between the curves stay visible as the loss shrinks
    ax.set_title(bi("ワーカーの平均 = 1プロセスの損失", "workers' average = one process's loss"))
    ax.legend(loc="upper right", fontsize=9)
    fig.tight_layout()
    return fig


# --- Exercises of notebook 11 ---------------------------------------------------------------------

AVERAGE_QUESTION = (0.8, -0.2, 0.6, 0.2)  # one weight's gradient on each of 4 workers
SHARE_QUESTION = (128, 4)  # a batch of 128 rows over 4 workers


def check_allreduce_position(answer) -> Feedback:
    """Notebook 11: between which two steps the all-reduce sits, as a pair such as (1, 2)."""
    if answer is None:
        return hint(*NO_ANSWER)
    if isinstance(answer, str) or not isinstance(answer, (tuple, list)) or len(answer) != 2 \
            or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in answer):
        return hint("(1, 2) のように、ステップ番号2つのタプルで答えます。",
                    "Answer with a pair of step numbers, such as (1, 2).")
    before, after = answer
    if (before, after) == (4, 5):
        return correct("正解です。逆伝播(4)で勾配ができてから、更新(5)で使う前に平均します。",
                       "Right: the gradients exist after backpropagation (4) and are averaged before the "
                       "update (5) uses them.")
    if not all(1 <= v <= 5 for v in answer):
        return hint("ステップは 1〜5 です。", "The steps are numbered 1 to 5.")
    if after != before + 1 and (before, after) != (5, 1):
        return hint("となり合う2つのステップを答えます(例: (2, 3))。",
                    "Name two neighbouring steps, such as (2, 3).")
    if before < 4:
        return hint("そこではまだ勾配がありません。平均するのは勾配です。",
                    "There are no gradients there yet, and gradients are what get averaged.")
    return hint("更新のあとでは遅すぎます。各ワーカーが自分の勾配で別々に更新し、コピーがずれてしまいます。",
                "After the update is too late: each worker would already have moved its weights its own "
                "way, and the copies would differ.")


def check_average(answer) -> Feedback:
    """Notebook 11: the gradient every worker holds after the all-reduce and the division by 4."""
    if answer is None:
        return hint(*NO_ANSWER)
    answer = as_number(answer)
    if answer is None:
        return hint("0.5 のように、1つの数で答えます。", "Answer with one number, such as 0.5.")
    values = AVERAGE_QUESTION
    truth = sum(values) / len(values)
    if math.isclose(answer, truth, abs_tol=1e-6):
        return correct(f"正解です。合計 {sum(values):g} をワーカー数 {len(values)} で割って {truth:g}。"
                       "4人とも同じ値を持つので、同じ更新をします。",
                       f"Right: the sum {sum(values):g} divided by the {len(values)} workers is {truth:g}. "
                       "All four hold this same value, so they make the same update.")
    if math.isclose(answer, sum(values), abs_tol=1e-6):
        return hint("それは合計です。all_reduce が配るのは合計なので、ワーカー数で割ります。",
                    "That is the sum. all_reduce hands out the sum; divide by the number of workers.")
    if any(math.isclose(answer, v, abs_tol=1e-6) for v in values):
        return hint("それは1人分の勾配です。4人全員の勾配を使います。",
                    "That is one worker's gradient. Use all four workers' gradients.")
    return hint("4つの勾配を足して、ワーカーの数で割ります(負の値に注意)。",
                "Add the four gradients and divide by the number of workers (mind the negative one).")


def check_batch_share(answer) -> Feedback:
    """Notebook 11: how many rows of a 128-row batch each of 4 workers runs through steps 1-4."""
    if answer is None:
        return hint(*NO_ANSWER)
    if not isinstance(answer, Integral) or isinstance(answer, bool):
        return hint("16 のように、整数1つで答えます。", "Answer with one whole number, such as 16.")
    rows, workers = SHARE_QUESTION
    if answer == rows // workers:
        return correct(f"正解です。{rows} 行を {workers} 人で分けて、1人 {rows // workers} 行です。"
                       "ワーカーを増やすほど、1人分の計算は減ります。",
                       f"Right: {rows} rows over {workers} workers is {rows // workers} rows each. "
                       "More workers, less work for each.")
    if answer == rows:
        return hint("それはバッチ全体です。モデルは全員が丸ごと持ちますが、データは分けます。",
                    "That is the whole batch. Every worker holds the whole model, but the data is split.")
    if answer == rows * workers:
        return hint("掛けるのではなく、分けます。", "Split the rows, do not multiply them.")
    return hint(f"{rows} 行を {workers} 人で等分します。", f"Share {rows} rows equally among {workers} workers.")
