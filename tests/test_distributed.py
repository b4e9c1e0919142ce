import json
import socket
import sys
import time
from pathlib import Path

import pytest
import torch
from matplotlib.figure import Figure

import helpers
from helpers.engine.text import BilingualError
from helpers.lessons import distributed, distributed_workers, style

LR, NUM_EPOCHS = 0.1, 30


def assert_none_running(err):
    assert err.running() == []
    assert all(p.returncode is not None for p in err.processes)
    if sys.platform.startswith("linux"):  # waited for, so not even a zombie is left
        assert not any(Path(f"/proc/{pid}").exists() for pid in err.pids)


@pytest.fixture(scope="module")
def data():
    return helpers.engine.data.make_line(n=64)


@pytest.fixture(scope="module")
def two_workers(data):
    X, y = data
    return distributed_workers.run_workers(X, y, world_size=2, lr=LR, num_epochs=NUM_EPOCHS)


# --- Two real worker processes ------------------------------------------------------------------

def test_two_workers_end_with_identical_weights(two_workers):
    w0, w1 = two_workers.weights
    assert two_workers.world_size == 2 and two_workers.backend == "gloo"
    assert set(w0) == {"weight", "bias"}
    assert all(torch.equal(w0[name], w1[name]) for name in w0)


def test_two_workers_equal_one_process_on_all_the_data(two_workers, data):
    X, y = data
    model = distributed_workers.make_model(seed=0)
    single_losses = distributed_workers.train_shard(model, X, y, lr=LR, num_epochs=NUM_EPOCHS)
    for name, value in model.state_dict().items():
        assert torch.allclose(two_workers.weights[0][name], value, atol=1e-5)
    average = [(a + b) / 2 for a, b in zip(*two_workers.losses, strict=True)]
    assert average == pytest.approx(single_losses, abs=1e-5)
    # Each worker saw different rows, so its own loss differs from the other's.
    assert two_workers.losses[0] != two_workers.losses[1]
    assert single_losses[-1] < single_losses[0] / 10  # and the training worked


def test_two_workers_split_the_rows_in_halves(two_workers):
    assert two_workers.rows == [(0, 32), (32, 64)]
    assert len(two_workers.losses[0]) == NUM_EPOCHS
    for seconds in two_workers.seconds:
        assert seconds["compute"] > 0 and seconds["communicate"] > 0


def test_a_crashing_worker_is_named_and_nothing_is_left_running(data):
    X, y = data
    with pytest.raises(distributed_workers.WorkerError) as caught:
        distributed_workers.run_workers(X, y, world_size=2, num_epochs=5, fail="crash", fail_rank=1)
    err = caught.value
    assert err.rank == 1
    message = str(err)
    assert "ワーカー 1" in message and "Worker 1" in message
    assert "simulated failure" in message
    assert len(err.processes) == 2
    assert_none_running(err)


def test_a_port_in_use_gives_a_bilingual_error(data):
    X, y = data
    with socket.socket() as taken:
        taken.bind((distributed_workers.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(distributed_workers.PortInUseError) as caught:
            distributed_workers.run_workers(X, y, port=port)
    message = str(caught.value)
    assert f"ポート {port}" in message and f"Port {port}" in message
    assert caught.value.processes == ()  # found before any worker started
    assert_none_running(caught.value)


def test_errors_reported_by_a_worker_are_sorted_by_kind():
    err = distributed_workers._worker_error(0, "DistNetworkError: failed to listen ... EADDRINUSE", 1234, ())
    assert isinstance(err, distributed_workers.PortInUseError)
    assert "ワーカー 0" in str(err) and "worker 0" in str(err) and "1234" in str(err)
    waited = distributed_workers._worker_error(0, "DistStoreError: Timed out after 61 seconds", 1234, ())
    assert isinstance(waited, distributed_workers.WorkerTimeoutError)
    assert "ワーカー 0" in str(waited) and "Worker 0" in str(waited) and "Timed out" in str(waited)
    other = distributed_workers._worker_error(1, "ValueError: bad", 1234, ())
    assert type(other) is distributed_workers.WorkerError


def test_a_worker_that_never_arrives_times_out_and_all_are_stopped(data):
    X, y = data
    start = time.monotonic()
    with pytest.raises(distributed_workers.WorkerTimeoutError) as caught:
        distributed_workers.run_workers(X, y, world_size=2, num_epochs=5, fail="hang", timeout=2.5)
    assert time.monotonic() - start < 15
    message = str(caught.value)
    assert "2.5 秒" in message and "2.5 s" in message
    assert_none_running(caught.value)


def test_the_first_error_written_names_the_worker(tmp_path):
    class Done:
        returncode = 1

    for rank, when, text in ((0, 20.0, "RuntimeError: connection closed"), (1, 10.0, "ValueError: first")):
        (tmp_path / f"error{rank}.json").write_text(json.dumps({"time": when, "message": text}))
    assert distributed_workers._first_failure(tmp_path, [Done(), Done()], [0, 1]) == (1, "ValueError: first")
    (tmp_path / "error0.json").unlink()
    (tmp_path / "error1.json").unlink()
    (tmp_path / "log1.txt").write_text("Traceback\nSegmentation fault\n")
    assert distributed_workers._first_failure(tmp_path, [Done(), Done()], [1]) == (1, "Segmentation fault")


# --- Bad input, before any process starts -------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"world_size": 3}, "64 rows cannot be split evenly over 3 workers"),
    ({"world_size": 0}, "at least 1"),
    ({"fail": "explode"}, "fail must be"),
    ({"timeout": 0}, "timeout must be"),
    ({"port": 70000}, "1 to 65535"),
])
def test_bad_arguments_raise_before_starting(data, kwargs, words):
    X, y = data
    with pytest.raises(BilingualError, match=words):
        distributed_workers.run_workers(X, y, **kwargs)


def test_bad_data_raises_before_starting():
    with pytest.raises(BilingualError, match="4 rows but y has 3"):
        distributed_workers.run_workers(torch.zeros(4, 1), torch.zeros(3, 1))


# --- Pieces that run in this process --------------------------------------------------------------

def test_shard_gives_each_worker_its_own_rows():
    X = torch.arange(12.0).unsqueeze(1)  # (12, 1)
    y = 10 * X
    parts = [distributed_workers.shard(X, y, rank, 3) for rank in range(3)]
    assert torch.equal(torch.cat([p[0] for p in parts]), X)
    assert torch.equal(parts[1][1], y[4:8])
    with pytest.raises(BilingualError, match="runs from 0 to 2"):
        distributed_workers.shard(X, y, 3, 3)


def test_make_model_gives_the_same_first_weights_and_keeps_the_global_seed():
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    a, b = distributed_workers.make_model(seed=0), distributed_workers.make_model(seed=0)
    assert torch.rand(1) == expected  # the global random stream was not touched
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(distributed_workers.make_model(seed=1).weight, a.weight)


def test_train_shard_is_plain_sgd_like_torch_optim(data):
    X, y = data
    model, twin = distributed_workers.make_model(), distributed_workers.make_model()
    losses = distributed_workers.train_shard(model, X, y, lr=LR, num_epochs=5)
    optimizer = torch.optim.SGD(twin.parameters(), lr=LR)
    for _ in range(5):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(twin(X), y).backward()
        optimizer.step()
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(model.parameters(), twin.parameters(), strict=True))


def test_choose_backend():
    assert distributed_workers.choose_backend("cpu") == "gloo"
    assert distributed_workers.choose_backend(None) == "gloo"
    expected = "nccl" if torch.cuda.device_count() >= 2 and torch.distributed.is_nccl_available() else "gloo"
    assert distributed_workers.choose_backend("cuda", world_size=2) == expected


def test_free_port_can_be_bound():
    port = distributed_workers.free_port()
    assert 0 < port < 65536
    with socket.socket() as s:
        s.bind((distributed_workers.HOST, port))


def test_worker_runs_in_this_process_as_a_group_of_one(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", distributed_workers.HOST)
    monkeypatch.setenv("MASTER_PORT", str(distributed_workers.free_port()))
    threads = torch.get_num_threads()
    try:
        assert distributed_workers.worker(["--out", str(tmp_path), "--num-epochs", "3", "--n", "8"]) == 0
        saved = torch.load(tmp_path / "rank0.pt", weights_only=True)
        expected = "nccl" if torch.cuda.device_count() >= 1 else "gloo"  # a GPU of its own, else the CPU
        assert saved["rows"] == (0, 8) and len(saved["losses"]) == 3 and saved["backend"] == expected
        monkeypatch.setenv("MASTER_PORT", str(distributed_workers.free_port()))
        assert distributed_workers.worker(["--out", str(tmp_path), "--fail", "crash", "--fail-rank", "0"]) == 1
        report = json.loads((tmp_path / "error0.json").read_text())
        assert report["message"].startswith("RuntimeError: simulated failure")
    finally:
        torch.set_num_threads(threads)
    assert not torch.distributed.is_initialized()


# --- Figures ----------------------------------------------------------------------------------

@pytest.mark.parametrize("world_size", [1, 2, 4])
def test_plot_data_parallel_draws_a_figure(world_size, japanese):
    fig = distributed.plot_data_parallel(world_size)
    assert isinstance(fig, Figure)
    assert style.missing_glyphs(fig) == []
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sum(t.endswith(f"worker {rank}") for t in texts for rank in range(world_size)) == world_size
    assert any("all-reduce" in t for t in texts)


def test_plot_data_parallel_rejects_too_many_workers():
    with pytest.raises(BilingualError, match="at most 4"):
        distributed.plot_data_parallel(5)


def test_plot_worker_losses(two_workers, japanese):
    single = [(a + b) / 2 for a, b in zip(*two_workers.losses, strict=True)]
    fig = distributed.plot_worker_losses(two_workers.losses, single)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].lines) == 4  # two workers, their average, one process
    assert style.missing_glyphs(fig) == []
    with pytest.raises(BilingualError, match="as many epochs"):
        distributed.plot_worker_losses(two_workers.losses, single[:-1])


# --- DDP's broadcast, all-reduce latency, the uneven split ------------------------------------------

def test_ddp_wrap_gives_every_worker_rank_0s_weights(two_workers):
    before = [d["before"] for d in two_workers.ddp]
    after = [d["after"] for d in two_workers.ddp]
    assert not torch.equal(before[0]["weight"], before[1]["weight"])  # different seeds on purpose
    for r in range(2):
        assert all(torch.equal(after[r][k], before[0][k]) for k in before[0])
    for d in two_workers.ddp:
        assert d["latency"]["two_tensors"] > 0 and d["latency"]["one_bucket"] > 0


def test_uneven_split_plain_average_is_off_and_weighting_fixes_it(data):
    X, y = data
    assert distributed.uneven_slices(64, 3) == [(0, 22), (22, 43), (43, 64)]
    assert distributed.uneven_slices(64, 2) == [(0, 32), (32, 64)]
    grads = distributed.uneven_gradients(distributed_workers.make_model(seed=0), X, y, workers=3)
    assert grads["rows"] == [22, 21, 21]
    assert not torch.allclose(grads["plain"], grads["full"], atol=1e-6)
    assert torch.allclose(grads["weighted"], grads["full"], atol=1e-6)
    even = distributed.uneven_gradients(distributed_workers.make_model(seed=0), X, y, workers=2)
    assert torch.allclose(even["plain"], even["full"], atol=1e-6)  # equal slices: the plain average is right
    with pytest.raises(BilingualError):
        distributed.uneven_slices(64, 0)


