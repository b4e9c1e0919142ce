"""Notebook 11: data-parallel training with torch.distributed. Starts the workers; each runs the five
steps on its rows, gradients averaged between steps 4 and 5; a crash, hang or taken port is named.
Run as `python -m helpers.lessons.distributed_workers` it is one worker (PyTorch and the engine only)."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from ..engine.device import synchronize
from ..engine.text import BilingualError
from . import distributed_ddp

HOST = "127.0.0.1"  # every worker runs on this machine
FAILURES = ("crash", "hang")  # failures a worker can be told to simulate, for the lesson and the tests


class DistributedError(BilingualError):
    """Something went wrong while the workers ran; no worker process is left running."""

    def __init__(self, ja: str, en: str, rank: int | None = None, processes=()):
        super().__init__(ja, en)
        self.rank = rank  # the worker that failed first, when one is known
        self.processes = tuple(processes)  # the workers' subprocess.Popen objects, ended and waited for

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self.processes)

    def running(self) -> list[int]:
        """The ranks of workers still running: empty, since every worker was stopped before the error."""
        return [rank for rank, p in enumerate(self.processes) if p.poll() is None]


class WorkerError(DistributedError):
    """A worker stopped with an error."""


class PortInUseError(DistributedError):
    """The rendezvous port is already taken by another program."""


class WorkerTimeoutError(DistributedError):
    """The workers did not finish in time."""


@dataclass
class DistributedResult:
    """What every worker sent back, listed by rank."""

    weights: list[dict[str, torch.Tensor]]  # each worker's final weights, on the CPU
    losses: list[list[float]]  # each worker's loss per epoch, on its own slice
    rows: list[tuple[int, int]]  # each worker's slice of the data: rows start..stop-1
    seconds: list[dict[str, float]]  # each worker's seconds per training step: compute, communicate
    ddp: list[dict] = field(default_factory=list)  # weights before/after a DDP wrap, all-reduce latency
    backend: str = "gloo"
    pids: tuple[int, ...] = field(default=())

    @property
    def world_size(self) -> int:
        return len(self.weights)


# --- Setting up -----------------------------------------------------------------------------------

def choose_backend(device=None, world_size: int = 2) -> str:
    """"nccl" when each worker can have a GPU of its own, else "gloo" (the CPU backend).

    ROCm builds of PyTorch use AMD's RCCL under the same name "nccl".
    """
    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda" and dist.is_nccl_available() and torch.cuda.device_count() >= world_size:
        return "nccl"
    return "gloo"


def free_port(host: str = HOST) -> int:
    """A port no program listens on now: the system picks one when we bind to port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_in_use(port: int, rank: int | None = None, processes=()) -> PortInUseError:
    who_ja = f"(ワーカー {rank} が待ち合わせ場所を開けませんでした)" if rank is not None else ""
    who_en = f" (worker {rank} could not open the meeting point there)" if rank is not None else ""
    return PortInUseError(
        f"ポート {port} はほかのプログラムが使っています{who_ja}。ワーカーはそこで待ち合わせできません。"
        f"port を指定せずに実行すると、空いているポートを自動で選びます。",
        f"Port {port} is already in use by another program{who_en}, so the workers cannot meet there. "
        f"Leave out port and a free one is chosen for you.", rank, processes)


def _check_port(port, host: str = HOST) -> int:
    if isinstance(port, bool) or not isinstance(port, Integral) or not 0 < port < 65536:
        raise BilingualError(f"ポート番号は 1〜65535 の整数です({port!r} が渡されました)。",
                             f"A port is a whole number from 1 to 65535 (got {port!r}).")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            raise _port_in_use(port) from None
    return int(port)


def _check_world_size(world_size) -> int:
    if isinstance(world_size, bool) or not isinstance(world_size, Integral) or world_size < 1:
        raise BilingualError(f"ワーカーの数は 1 以上の整数です({world_size!r} が渡されました)。",
                             f"The number of workers must be a whole number of at least 1 (got {world_size!r}).")
    return int(world_size)


def shard(X, y, rank: int, world_size: int):
    """This worker's slice of the data: rows rank * n / world_size up to (rank + 1) * n / world_size."""
    world_size = _check_world_size(world_size)
    n = len(X)
    if not 0 <= rank < world_size:
        raise BilingualError(f"ランク(ワーカー番号)は 0 から {world_size - 1} までです({rank})。",
                             f"The rank (worker number) runs from 0 to {world_size - 1} (got {rank}).")
    if n % world_size:
        raise BilingualError(
            f"{n} 行は {world_size} 人のワーカーで等分できません。行数を {world_size} の倍数にします。",
            f"{n} rows cannot be split evenly over {world_size} workers: use a multiple of {world_size}.")
    size = n // world_size
    start = rank * size
    return X[start:start + size], y[start:start + size]  # (size, features), (size, 1)


def make_model(seed: int = 0) -> nn.Linear:
    """The model every worker copies, a line w x + b: (batch, 1) -> (batch, 1); one seed, one set of weights."""
    with torch.random.fork_rng(devices=[]):  # the same weights every time, without touching the global seed
        torch.manual_seed(seed)
        return nn.Linear(1, 1)


# --- The loop every worker runs -------------------------------------------------------------------

def train_shard(model, X, y, *, lr: float, num_epochs: int, world_size: int = 1) -> list[float]:
    """The five steps on this worker's rows; with several workers, gradients are averaged between 4 and 5."""
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(num_epochs):
        # 1 input: X (rows, 1) and y (rows, 1) are this worker's slice only
        prediction = model(X)  # 2 forward pass, (rows, 1)
        loss = loss_fn(prediction, y)  # 3 loss on this worker's rows
        model.zero_grad()
        loss.backward()  # 4 backpropagation: gradients from this worker's rows
        if world_size > 1:
            for param in model.parameters():
                dist.all_reduce(param.grad)  # the sum of every worker's gradient, on every worker
                param.grad /= world_size  # the sum becomes the average
        with torch.no_grad():
            for param in model.parameters():
                param -= lr * param.grad  # 5 update (SGD): the same averaged gradient on every worker
        losses.append(loss.item())
    return losses


def time_step(model, X, y, world_size: int, repeats: int = 20) -> dict[str, float]:
    """Seconds per training step spent computing (steps 2-4) and communicating (the all-reduce)."""
    device = X.device
    loss_fn = nn.MSELoss()
    compute = communicate = 0.0
    for _ in range(repeats):
        if world_size > 1:
            dist.barrier()  # start together, so waiting for a slower worker is not counted
        synchronize(device)
        start = time.perf_counter()
        model.zero_grad()
        loss_fn(model(X), y).backward()
        synchronize(device)
        middle = time.perf_counter()
        if world_size > 1:
            for param in model.parameters():
                dist.all_reduce(param.grad)
            synchronize(device)
        compute += middle - start
        communicate += time.perf_counter() - middle
    return {"compute": compute / repeats, "communicate": communicate / repeats}


# --- One worker process ---------------------------------------------------------------------------

def _arguments(argv=None):
    parser = argparse.ArgumentParser(prog="python -m helpers.lessons.distributed_workers",
                                     description="One data-parallel worker (notebook 11).")
    parser.add_argument("--out", required=True, help="folder for each worker's result")
    parser.add_argument("--data", default=None, help="a file holding X and y (default: helpers.engine.data.make_line)")
    parser.add_argument("--n", type=int, default=64, help="rows of data when --data is not given")
    parser.add_argument("--num-epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0, help="seed of the first weights (and of the data)")
    parser.add_argument("--backend", default=None, help="gloo or nccl; default: nccl with a GPU per worker")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the other workers")
    parser.add_argument("--fail", choices=FAILURES, default=None, help="simulate a failure")
    parser.add_argument("--fail-rank", type=int, default=1)
    return parser.parse_args(argv)


def _load_data(args):
    if args.data is not None:
        saved = torch.load(args.data, weights_only=True)
        return saved["X"], saved["y"]
    from ..engine.data import make_line  # only without --data, e.g. under torchrun

    return make_line(n=args.n, seed=args.seed)


def _write_json(path: Path, value) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value), encoding="utf-8")
    os.replace(partial, path)  # the parent never reads a half-written file


def worker(argv=None) -> int:
    """Run one worker: join the group, train on this worker's slice, save the result. Returns the exit code."""
    args = _arguments(argv)
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        torch.set_num_threads(1)  # the workers share this machine's cores
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        backend = args.backend or ("nccl" if torch.cuda.device_count() > local_rank else "gloo")
        device = torch.device(f"cuda:{local_rank}" if backend == "nccl" else "cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)  # NCCL/RCCL: one GPU per worker, chosen before joining
        if args.fail == "hang" and rank == args.fail_rank:
            time.sleep(10 * args.timeout)  # never joins: the others wait at the rendezvous
        # The rendezvous: every worker meets at MASTER_ADDR:MASTER_PORT, where rank 0 listens.
        dist.init_process_group(backend, init_method="env://", rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(seconds=args.timeout))
        X, y = _load_data(args)  # (n, 1), (n, 1): the same data on every worker
        X_mine, y_mine = shard(X.to(device), y.to(device), rank, world_size)  # (n / world_size, 1)
        model = make_model(seed=args.seed).to(device)  # the same seed: the same first weights everywhere
        if args.fail == "crash" and rank == args.fail_rank:
            raise RuntimeError("simulated failure before the first all-reduce")
        losses = train_shard(model, X_mine, y_mine, lr=args.lr, num_epochs=args.num_epochs,
                             world_size=world_size)
        seconds = time_step(model, X_mine, y_mine, world_size)
        ddp = distributed_ddp.measure(make_model, rank, device)  # DDP's broadcast, all-reduce latency
        size = len(X) // world_size
        torch.save({"weights": {k: v.cpu() for k, v in model.state_dict().items()}, "losses": losses,
                    "rows": (rank * size, (rank + 1) * size), "seconds": seconds, "backend": backend,
                    "ddp": ddp}, out / f"rank{rank}.pt")
        return 0
    except Exception as err:  # noqa: BLE001 - any failure goes back to the parent, named
        _write_json(out / f"error{rank}.json",
                    {"time": time.time(), "message": f"{type(err).__name__}: {err}".strip()})
        return 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


# --- Starting the workers -------------------------------------------------------------------------

def _environment(rank: int, world_size: int, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(MASTER_ADDR=HOST, MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
               WORLD_SIZE=str(world_size), OMP_NUM_THREADS="1")
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # all workers are on this machine: use loopback
    elif sys.platform == "darwin":
        env.setdefault("GLOO_SOCKET_IFNAME", "lo0")
    return env


def _stop(processes) -> None:
    """End every worker still running and wait for each, so none is left behind."""
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _first_failure(folder: Path, processes, failed: list[int]) -> tuple[int, str]:
    """(rank, message) of the worker that failed first: the earliest error written, else the log's end."""
    errors = []
    for rank in range(len(processes)):
        path = folder / f"error{rank}.json"
        if path.exists():
            report = json.loads(path.read_text(encoding="utf-8"))
            errors.append((report["time"], rank, report["message"]))
    if errors:
        _, rank, message = min(errors)
        return rank, message
    rank = failed[0]
    log = (folder / f"log{rank}.txt").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return rank, (log[-1] if log else f"exit code {processes[rank].returncode}")


def _worker_error(rank: int, message: str, port: int, processes) -> DistributedError:
    if "EADDRINUSE" in message or "address already in use" in message.lower():
        return _port_in_use(port, rank, processes)
    if "timed out" in message.lower() or "timeout" in message.lower():  # the worker's own timeout ran out
        return WorkerTimeoutError(
            f"ワーカー {rank} が、ほかのワーカーを待つ時間の上限をこえました: {message}\n"
            f"どれかのワーカーが待ち合わせに来ていないか、途中で止まっています。全員を止めました。",
            f"Worker {rank} waited longer than its time limit for the others: {message}\n"
            f"A worker never reached the meeting point or got stuck. All were stopped.", rank, processes)
    return WorkerError(
        f"ワーカー {rank} がエラーで止まりました: {message}\n"
        f"1人が止まると、ほかのワーカーは勾配の平均を待ったまま進めないので、全員を止めました。",
        f"Worker {rank} stopped with an error: {message}\n"
        f"When one worker stops, the others cannot finish averaging the gradients, so all were stopped.",
        rank, processes)


def run_workers(X, y, world_size: int = 2, *, lr: float = 0.1, num_epochs: int = 30, seed: int = 0,
                device=None, port: int | None = None, timeout: float = 60.0, fail: str | None = None,
                fail_rank: int = 1) -> DistributedResult:
    """Start world_size worker processes; each trains a copy of make_model(seed) on its slice of X, y.

    device: the notebook's device; the workers use a GPU each (backend "nccl") only when there are
    enough GPUs, else the CPU (backend "gloo"). port: where the workers meet (default: a free one).
    timeout: seconds for the whole run. fail: "crash" or "hang" makes worker fail_rank fail on purpose.
    Raises WorkerError, PortInUseError or WorkerTimeoutError; no worker process outlives the call.
    """
    from ..engine.data import check_data

    world_size = _check_world_size(world_size)
    check_data(X, y)
    shard(X, y, 0, world_size)  # the rows split evenly: checked before anyone starts
    if fail is not None and fail not in FAILURES:
        raise BilingualError(f"fail は {' か '.join(FAILURES)} です({fail!r})。",
                             f"fail must be {' or '.join(FAILURES)} (got {fail!r}).")
    if isinstance(timeout, bool) or not isinstance(timeout, Real) or not timeout > 0:
        raise BilingualError(f"timeout は 0 より大きい秒数です({timeout!r})。",
                             f"timeout must be a number of seconds above 0 (got {timeout!r}).")
    port = free_port() if port is None else _check_port(port)
    backend = choose_backend(device, world_size)
    with tempfile.TemporaryDirectory(prefix="data-parallel-") as name:
        folder = Path(name)
        torch.save({"X": X.detach().cpu(), "y": y.detach().cpu()}, folder / "data.pt")
        arguments = ["--out", str(folder), "--data", str(folder / "data.pt"), "--num-epochs", str(num_epochs),
                     "--lr", repr(float(lr)), "--seed", str(seed), "--backend", backend,
                     "--timeout", repr(float(timeout)), "--fail-rank", str(fail_rank)]
        if fail is not None:
            arguments += ["--fail", fail]
        processes = []
        try:
            for rank in range(world_size):
                with open(folder / f"log{rank}.txt", "w") as log:  # a worker's output stays out of the notebook
                    processes.append(subprocess.Popen(
                        [sys.executable, "-m", "helpers.lessons.distributed_workers", *arguments],
                        env=_environment(rank, world_size, port), stdin=subprocess.DEVNULL,
                        stdout=log, stderr=subprocess.STDOUT))
            deadline = time.monotonic() + timeout
            while True:
                codes = [p.poll() for p in processes]
                failed = [rank for rank, code in enumerate(codes) if code not in (None, 0)]
                if failed:
                    _stop(processes)
                    raise _worker_error(*_first_failure(folder, processes, failed), port, processes)
                if all(code == 0 for code in codes):
                    break
                if time.monotonic() > deadline:
                    _stop(processes)
                    waiting = ", ".join(str(rank) for rank, code in enumerate(codes) if code is None)
                    raise WorkerTimeoutError(
                        f"{timeout:g} 秒たってもワーカー {waiting} が終わりませんでした。どれかのワーカーが"
                        f"待ち合わせ(ランデブー)に来ていないか、途中で止まっています。全員を止めました。",
                        f"Workers {waiting} did not finish within {timeout:g} s: a worker never reached "
                        f"the rendezvous or got stuck. All were stopped.", None, processes)
                time.sleep(0.02)
        finally:
            _stop(processes)  # also on KeyboardInterrupt: no worker is left running
        results = [torch.load(folder / f"rank{rank}.pt", weights_only=True) for rank in range(world_size)]
    return DistributedResult(weights=[r["weights"] for r in results], losses=[r["losses"] for r in results],
                             rows=[tuple(r["rows"]) for r in results], seconds=[r["seconds"] for r in results],
                             ddp=[r["ddp"] for r in results], backend=results[0]["backend"],
                             pids=tuple(p.pid for p in processes))


if __name__ == "__main__":
    code = worker()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # the result is saved and closed; skipping interpreter teardown saves seconds
