"""Notebook 11: what DistributedDataParallel does when it wraps a model (rank 0's weights broadcast to
everyone), what one all-reduce costs in pure waiting (two tiny tensors vs one bucket), and the
uneven-split exercise (64 rows over 3 workers). Runs inside each worker process; PyTorch only."""

from __future__ import annotations

import math
import statistics
import time

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..engine.device import synchronize
from ..engine.text import BilingualError
from .feedback import NO_ANSWER, Feedback, correct, hint


def ddp_broadcast(make_model, rank: int, device=None) -> dict:
    """Each worker builds its model from a different seed, then wraps it in DDP; the weights before
    and after the wrap, on the CPU. DDP copies rank 0's parameters to every worker when it wraps."""
    device = torch.device(device or "cpu")
    model = make_model(seed=100 + rank).to(device)  # a different start on every worker, on purpose
    before = {k: v.detach().clone().cpu() for k, v in model.state_dict().items()}
    ids = [device] if device.type == "cuda" else None  # one GPU per worker; none on the CPU
    wrapped = DistributedDataParallel(model, device_ids=ids)
    after = {k: v.detach().clone().cpu() for k, v in wrapped.module.state_dict().items()}
    return {"before": before, "after": after}


def allreduce_latency(repeats: int = 50, device=None) -> dict:
    """Median seconds to all-reduce two 1-number tensors one after the other, and one 2-number bucket."""
    device = torch.device(device or "cpu")
    a, b, bucket = (torch.zeros(n, device=device) for n in (1, 1, 2))
    two, one = [], []
    for _ in range(repeats):
        dist.barrier()  # start together: waiting for a late worker is not counted
        start = time.perf_counter()
        dist.all_reduce(a)
        dist.all_reduce(b)
        synchronize(device)
        two.append(time.perf_counter() - start)
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(bucket)  # the same two numbers, sent together
        synchronize(device)
        one.append(time.perf_counter() - start)
    return {"two_tensors": statistics.median(two), "one_bucket": statistics.median(one)}


def measure(make_model, rank: int, device=None) -> dict:
    """Both measurements, for one worker's result file."""
    return {**ddp_broadcast(make_model, rank, device), "latency": allreduce_latency(device=device)}


# --- The uneven split: 64 rows over 3 workers -------------------------------------------------------

UNEVEN = (64, 3)


def _check_workers(workers) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise BilingualError(f"workers は 1 以上の整数です({workers!r})。",
                             f"workers must be a whole number of at least 1 (got {workers!r}).")
    return workers



def uneven_slices(rows: int = UNEVEN[0], workers: int = UNEVEN[1]) -> list[tuple[int, int]]:
    """How torch.tensor_split cuts `rows` rows among `workers`: the first slices get one row more."""
    workers = _check_workers(workers)
    sizes = [len(part) for part in torch.arange(rows).tensor_split(workers)]
    starts = [sum(sizes[:i]) for i in range(workers)]
    return [(s, s + n) for s, n in zip(starts, sizes, strict=True)]


def uneven_gradients(model: nn.Module, X, y, workers: int = UNEVEN[1]) -> dict:
    """The full-batch gradient, the plain average of each slice's (mean-loss) gradient, and the
    average weighted by each slice's rows; flattened into one vector each."""
    loss_fn = nn.MSELoss()

    def gradient(Xs, ys):
        model.zero_grad()
        loss_fn(model(Xs), ys).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()]).clone()

    full = gradient(X, y)
    parts = [(gradient(X[a:b], y[a:b]), b - a) for a, b in uneven_slices(len(X), workers)]
    plain = sum(g for g, _ in parts) / workers
    weighted = sum(g * n for g, n in parts) / len(X)
    return {"full": full, "plain": plain, "weighted": weighted, "rows": [n for _, n in parts]}


def check_uneven(answer) -> Feedback:
    """Notebook 11: with 64 rows over 3 workers, does the plain average of the gradients equal the
    full-batch gradient? Answer True or False."""
    if answer is None:
        return hint(*NO_ANSWER)
    if isinstance(answer, str):
        answer = {"true": True, "yes": True, "はい": True, "false": False, "no": False, "いいえ": False}.get(
            answer.strip().lower(), answer)
    if isinstance(answer, float) and math.isnan(answer):
        return hint("NaN ではなく、True か False で答えます。", "Answer True or False, not NaN.")
    if not isinstance(answer, bool):
        return hint("True(等しい)か False(等しくない)で答えます。",
                    "Answer True (equal) or False (not equal).")
    rows, workers = UNEVEN
    sizes = [b - a for a, b in uneven_slices(rows, workers)]
    if answer is False:
        return correct(
            f"正解です。{rows} 行は {', '.join(map(str, sizes))} 行に分かれます。"
            "各ワーカーの損失は自分の行の平均なので、22 行の平均と 21 行の平均を同じ重み 1/3 で足すと、"
            "22 行の側の1行が少し軽く数えられます。"
            f"行数で重みをつけて({sizes[0]}/{rows} など)足せば、全体の勾配と一致します。"
            "DistributedSampler は、行を少し重複させて全員の行数をそろえます。",
            f"Right: {rows} rows split into {', '.join(map(str, sizes))}. Each worker's loss is the mean over "
            f"its own rows, so giving the 22-row mean and the 21-row means the same weight 1/3 counts each row "
            f"of the larger slice a little less. Weighting by rows ({sizes[0]}/{rows} and so on) gives the "
            "full-batch gradient exactly. DistributedSampler repeats a few rows so every worker gets the same "
            "number.")
    return hint(
        "64 は 3 で割り切れません。各ワーカーの勾配は、それぞれの行の「平均」の損失から出ます。"
        "行数のちがう平均を、同じ重みで平均してよいでしょうか。",
        "64 is not divisible by 3. Each worker's gradient comes from the mean loss over its own rows. "
        "May means over different numbers of rows be averaged with equal weights?")
