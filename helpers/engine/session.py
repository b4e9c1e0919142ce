"""Reproducible runs: one call seeds every random generator, fixes the CPU threads and print precision.

`helpers.setup()` (in the notebooks) calls `configure` and adds what only a notebook needs: figures and
short error messages (helpers.lessons.notebook).
"""

from __future__ import annotations

import random

import numpy as np
import torch

from . import text


def configure(seed: int = 0, lang: str | None = None, precision: int = 4, threads: int | None = 1) -> None:
    """Seed random, NumPy and PyTorch; set the threads, the print precision and the language.

    threads: CPU threads PyTorch may use. One keeps the series' small tensors fast when many kernels
    share a machine (a classroom server), and its printed numbers the same on every machine;
    None leaves PyTorch's own choice.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise text.BilingualError(f"seed は整数です({seed!r} が渡されました)。",
                                  f"seed must be a whole number (got {seed!r}).")
    if not 0 <= seed < 2**32:  # NumPy's range; a negative seed would stop it with an English-only error
        raise text.BilingualError(f"seed は 0 から {2**32 - 1} までの整数です({seed!r} が渡されました)。",
                                  f"seed must be a whole number from 0 to {2**32 - 1} (got {seed!r}).")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise text.BilingualError(f"threads は 1 以上の整数か None です({threads!r} が渡されました)。",
                                  f"threads must be a whole number of at least 1, or None (got {threads!r}).")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    torch.set_printoptions(precision=precision, sci_mode=False)
    np.set_printoptions(precision=precision, suppress=True)
    if lang is not None:
        text.set_language(lang)
