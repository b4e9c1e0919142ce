"""Measuring training against inference: the weights' checksum, the autograd graph, time and memory
(notebooks 08, 09 and 10)."""

from __future__ import annotations

import hashlib
import statistics
import time

import torch
from torch import nn

from ..engine import backprop, forward, loss, update
from ..engine.device import synchronize
from ..engine.text import BilingualError

# --- Row "weights change" ----------------------------------------------------------------------

def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise BilingualError(f"model は torch.nn.Module にします({type(model).__name__} が渡されました)。",
                             f"model must be a torch.nn.Module (got {type(model).__name__}).")


def weights_checksum(model: nn.Module) -> str:
    """A fingerprint of every weight's exact bits: it changes when any single weight changes."""
    _check_model(model)
    digest = hashlib.sha256()
    for p in model.parameters():
        # The raw bytes, so even a change in the last bit of one number shows.
        digest.update(p.detach().reshape(-1).cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


# --- Row "compute direction" -------------------------------------------------------------------

def _check_tensor(tensor, name: str = "tensor") -> None:
    if not isinstance(tensor, torch.Tensor):
        raise BilingualError(f"{name} は torch.Tensor にします({type(tensor).__name__} が渡されました)。",
                             f"{name} must be a torch.Tensor (got {type(tensor).__name__}).")


def graph_nodes(tensor) -> list[str]:
    """The names of the autograd graph's nodes behind tensor, from the output back to the weights."""
    _check_tensor(tensor)
    # Every node met stays referenced in `seen`: a freed node's id could be reused by another node.
    names, seen, queue = [], {}, [tensor.grad_fn]
    while queue:  # breadth first: the order in which backpropagation reaches them
        node = queue.pop(0)
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        names.append(node.name().removeprefix("torch::autograd::"))
        queue += [child for child, _ in node.next_functions]
    return names


def count_graph_nodes(tensor) -> int:
    """How many nodes the autograd graph behind tensor holds (0 when there is no graph)."""
    return len(graph_nodes(tensor))


# --- Row "compute cost" ------------------------------------------------------------------------

def _check_repeats(repeats) -> int:
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise BilingualError(f"repeats は 1 以上の整数です({repeats!r} が渡されました)。",
                             f"repeats must be a whole number of at least 1 (got {repeats!r}).")
    return repeats


def _median_seconds(run, device: torch.device, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):  # the first calls pay for one-time set-up (memory, kernels)
        run()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)  # the median ignores the odd slow run


def time_inference(model: nn.Module, X, repeats: int = 20) -> float:
    """Median seconds of one forward pass under torch.inference_mode (model in eval mode)."""
    _check_model(model)
    _check_tensor(X, "X")
    forward.check_input(model, X)
    repeats = _check_repeats(repeats)
    was_training = model.training
    model.eval()

    def run():
        with torch.inference_mode():
            forward.forward(model, X)  # (batch, outputs)

    try:
        return _median_seconds(run, X.device, repeats)
    finally:
        model.train(was_training)


def time_training_step(model: nn.Module, X, y, loss_fn, optimizer, repeats: int = 20) -> float:
    """Median seconds of one training step: forward, loss, backward and update (model in train mode)."""
    _check_model(model)
    _check_tensor(X, "X")
    _check_tensor(y, "y")
    forward.check_input(model, X)
    repeats = _check_repeats(repeats)
    was_training = model.training
    model.train()

    def run():
        prediction = forward.forward(model, X)  # 2 forward pass, (batch, outputs)
        batch_loss = loss.compute_loss(loss_fn, prediction, y)  # 3 loss
        backprop.backward(batch_loss, optimizer)  # 4 backpropagation
        update.step(optimizer)  # 5 update

    try:
        return _median_seconds(run, X.device, repeats)
    finally:
        model.train(was_training)


# --- Row "memory" ------------------------------------------------------------------------------

def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def parameter_bytes(model: nn.Module) -> int:
    """Bytes of all the weights."""
    _check_model(model)
    return sum(_nbytes(p) for p in model.parameters())


def gradient_bytes(model: nn.Module) -> int:
    """Bytes of the gradients now held in each weight's .grad (0 before the first backward)."""
    _check_model(model)
    return sum(_nbytes(p.grad) for p in model.parameters() if p.grad is not None)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the optimizer's own tensors (Adam: two running averages per weight, plus a step count)."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise BilingualError(
            f"optimizer は torch.optim.Optimizer にします({type(optimizer).__name__} が渡されました)。",
            f"optimizer must be a torch.optim.Optimizer (got {type(optimizer).__name__}).")
    return sum(_nbytes(value) for state in optimizer.state.values() for value in state.values()
               if isinstance(value, torch.Tensor))


def saved_activation_bytes(model: nn.Module, X) -> int:
    """Bytes of the activations one forward pass keeps for backpropagation (0 under inference_mode).

    Every tensor autograd saves passes through a hook; each is counted once, and the weights (which
    are in memory anyway) are left out.
    """
    _check_model(model)
    _check_tensor(X, "X")
    forward.check_input(model, X)
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    weights |= {b.untyped_storage().data_ptr() for b in model.buffers()}
    blocks: dict[tuple[int, int], int] = {}

    def pack(t):
        if t.untyped_storage().data_ptr() not in weights:  # a weight, or a view of one such as W.T
            nbytes = t.numel() * t.element_size()
            blocks[(t.data_ptr(), nbytes)] = nbytes  # a tensor saved by two operations counts once
        return t  # keep the tensor itself: measuring must not add copies

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        output = forward.forward(model, X)  # (batch, outputs); holds the graph while we count
    del output
    return sum(blocks.values())


def peak_cuda_bytes(fn, device) -> int | None:
    """Extra GPU memory at the peak while fn() runs; None on a CPU or Apple MPS (no such counter)."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    fn()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) - before


def peak_live_bytes(fn) -> int:
    """Most bytes of new tensors alive at one moment while fn() runs (what a CPU has no counter for).

    Every operator's output passes through a dispatch mode; a new block of memory counts from the
    moment an operator makes it until the last tensor using it is gone. Tensors that existed before
    (the weights, the input) and views of them are not counted. On a GPU torch.cuda.max_memory_allocated
    gives the allocator's own figure; this one counts the same tensors on any device.
    """
    import weakref

    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    live: dict[int, list[int]] = {}  # block address -> [bytes, tensors using it]
    outside: set[int] = set()
    peak = [0, 0]  # now, most

    def release(key: int) -> None:
        entry = live.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] == 0:
                peak[0] -= live.pop(key)[0]

    class Counter(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            for t in tree_flatten((args, kwargs or {}))[0]:
                if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in live:
                    outside.add(t.untyped_storage().data_ptr())
            out = func(*args, **(kwargs or {}))
            for t in tree_flatten(out)[0]:
                if not isinstance(t, torch.Tensor) or t.untyped_storage().nbytes() == 0:
                    continue
                key = t.untyped_storage().data_ptr()
                if key in outside:
                    continue  # a view of a weight or of the input, or an in-place result
                entry = live.setdefault(key, [t.untyped_storage().nbytes(), 0])
                if entry[1] == 0:
                    peak[0] += entry[0]
                    peak[1] = max(peak)
                entry[1] += 1
                weakref.finalize(t, release, key)
            return out

    with Counter():
        result = fn()
    del result
    return peak[1]


def operators_run(fn) -> set[str]:
    """The ATen operators fn() runs ("addmm", "_int_mm", ...): which kernels did the arithmetic."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.names: set[str] = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.add(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    with Record() as record:
        fn()
    return record.names
