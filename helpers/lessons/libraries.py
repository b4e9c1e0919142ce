"""Notebook 09, which library does the work in each step: the exercises and their checkers.
notebook 09 reaches the library names (libraries_names), the profiler (libraries_profile), solver
choice and memory (libraries_runtime) and the GEMM sweep (libraries_sweep) through this module."""

from __future__ import annotations

import math
import re

from ..engine.text import labelled
from .feedback import NO_ANSWER, Feedback, as_number, correct, hint
from .libraries_gpu import kernel_library, kernel_lines, preferred_blas  # noqa: F401

# Notebook 09 reaches everything it uses through this module (`lesson` there).
from .libraries_names import (  # noqa: F401
    BACKENDS,
    STEPS,
    backend_of,
    build_summary,
    classify_op,
    cpu_build_info,
    library_for,
    library_table,
    table_markdown,
)
from .libraries_profile import (  # noqa: F401
    make_cnn,
    make_mlp,
    profile_figure,
    profile_table,
    profile_training_step,
    step_legend,
    training_step,
)
from .libraries_runtime import conv_benchmark, conv_library_version, cuda_memory_during, first_and_rest, tensor_bytes  # noqa: F401
from .libraries_sweep import crossover, matmul_flops, matmul_sweep, sweep_figure, training_flops  # noqa: F401
from .measure import peak_live_bytes, saved_activation_bytes  # noqa: F401

# --- Exercises ----------------------------------------------------------------------------------

def _name(answer) -> str:
    return re.sub(r"[\s_\-]", "", str(answer)).lower()


# key -> (the job in Japanese, in English, accepted names, hint in Japanese, in English)
LIBRARY_QUESTIONS = {
    "matmul": ("行列積(Linear 層の重み × 入力)", "a matrix product (a Linear layer's weights × input)",
               {"rocblas", "hipblaslt", "hipblas", "rocblas/hipblaslt", "rocblas/hipblas"},
               "行列積は BLAS と呼ばれる種類のライブラリの仕事です。表の ROCm の列を見てください。",
               "Matrix products are the job of a BLAS library; look at the ROCm column of the table."),
    "conv": ("畳み込み(Conv2d のフィルタ)", "a convolution (a Conv2d filter)", {"miopen"},
             "畳み込みと活性化を受けもつ、深層学習専用のライブラリです。",
             "It is the library made for deep learning that runs convolutions and activations."),
    "memory": ("GPU メモリの確保と転送", "allocating and copying GPU memory", {"hip", "hipruntime"},
               "AMD の GPU で CUDA の代わりをする、いちばん土台の仕組みです。",
               "It is the base layer that stands in for CUDA on AMD GPUs."),
}
_OTHER_BACKENDS = {
    "cublas": "NVIDIA", "cublaslt": "NVIDIA", "cudnn": "NVIDIA", "cuda": "NVIDIA", "cudaruntime": "NVIDIA",
    "mkl": "CPU", "onednn": "CPU", "mkldnn": "CPU", "openblas": "CPU",
}


def library_questions() -> None:
    """Print the jobs to be matched with a ROCm library."""
    for key, (ja, en, *_) in LIBRARY_QUESTIONS.items():
        print(labelled(key, ja, en))


def check_library(answers) -> Feedback:
    """Notebook 09: answers maps "matmul", "conv", "memory" to the ROCm library that does that job."""
    if answers is None:
        return hint(*NO_ANSWER)
    if not isinstance(answers, dict):
        return hint("{'matmul': '...', 'conv': '...', 'memory': '...'} のような辞書で答えます。",
                    "Answer with a dict such as {'matmul': '...', 'conv': '...', 'memory': '...'}.")
    missing = [k for k in LIBRARY_QUESTIONS if answers.get(k) is None]
    if missing:
        keys = ", ".join(missing)
        return hint(f"まだ答えていない項目があります: {keys}", f"Some items have no answer yet: {keys}")
    notes_ja, notes_en = [], []
    for key, (_, _, accepted, hint_ja, hint_en) in LIBRARY_QUESTIONS.items():
        given = _name(answers[key])
        if given in accepted:
            continue
        other = _OTHER_BACKENDS.get(given)
        if other:
            notes_ja.append(f"{key}: {answers[key]} は {other} の名前です。AMD ROCm の名前で答えます。")
            notes_en.append(f"{key}: {answers[key]} is the {other} name; give the AMD ROCm one.")
        else:
            notes_ja.append(f"{key}: {hint_ja}")
            notes_en.append(f"{key}: {hint_en}")
    if notes_ja:
        return hint("\n".join(notes_ja), "\n".join(notes_en))
    return correct("3つとも正解です。行列積は rocBLAS / hipBLASLt、畳み込みは MIOpen、メモリは HIP。"
                   "それを呼び分けるのが PyTorch です。",
                   "All three right: matrix products rocBLAS / hipBLASLt, convolutions MIOpen, memory HIP, "
                   "and PyTorch calls each of them.")


def check_flops(answer, n: int = 1024) -> Feedback:
    """Notebook 09: the operations of an (n, n) @ (n, n) matrix product, counted as in GFLOP/s."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint("数で答えます(例: 2 * 10**9)。", "Answer with a number (e.g. 2 * 10**9).")
    truth = matmul_flops(n)
    if math.isclose(value, truth, rel_tol=1e-6):
        return correct(f"正解です。{n}×{n} の出力それぞれに {n} 回の掛け算と足し算: 2 × {n}³ = {truth:,d}。",
                       f"Right: each of the {n}×{n} outputs needs {n} multiplications and additions: "
                       f"2 × {n}³ = {truth:,d}.")
    if math.isclose(value, n ** 3, rel_tol=1e-6):
        return hint("掛け算だけを数えています。掛けたものを足す計算も1回と数えます。",
                    "That counts the multiplications only; each one is followed by an addition, which counts too.")
    if math.isclose(value, n ** 2, rel_tol=1e-6) or math.isclose(value, 2 * n ** 2, rel_tol=1e-6):
        return hint(f"それは出力の数くらいです。出力1つを作るのに、長さ {n} の掛け算と足し算がいります。",
                    f"That is about the number of outputs; each output needs {n} multiplications and additions.")
    return hint(f"出力の数 × 出力1つあたりの計算の数、で考えます({value:,.0f} は大きさがちがいます)。",
                f"Think: number of outputs × operations per output ({value:,.0f} is off).")


def check_backward_ratio(answer) -> Feedback:
    """Notebook 09: how many times a middle Linear layer's forward work its backward pass needs."""
    if answer is None:
        return hint(*NO_ANSWER)
    value = as_number(answer)
    if value is None:
        return hint("数で答えます(例: 1.5)。", "Answer with a number (e.g. 1.5).")
    if math.isclose(value, 2.0, abs_tol=0.01):
        return correct("正解です。入力の勾配と重みの勾配で、行列積が2回。だから逆伝播は順伝播の約2倍です。",
                       "Right: one matrix product for the input's gradient and one for the weights', "
                       "so backpropagation is about twice the forward work.")
    if math.isclose(value, 1.0, abs_tol=0.01):
        return hint("逆伝播は勾配を2種類作ります。重みの勾配と、もう1つは何でしょう。",
                    "Backpropagation makes two kinds of gradient: the weights', and which other one?")
    if math.isclose(value, 3.0, abs_tol=0.01):
        return hint("それは順伝播と逆伝播を合わせた量です。逆伝播だけでは?",
                    "That is forward and backward together; what about backward alone?")
    if math.isclose(value, 0.5, abs_tol=0.01):
        return hint("向きが逆です。逆伝播のほうが順伝播より仕事が多いです。",
                    "Upside down: backpropagation does more work than the forward pass.")
    return hint("逆伝播で作る勾配の種類を数えて、1つが順伝播と同じ量の行列積だと考えます。",
                "Count the kinds of gradient backpropagation makes; each costs one forward-sized matrix product.")
