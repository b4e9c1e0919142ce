"""The device line and the device choice as a reader meets them, on machines this one only pretends to be."""

from types import SimpleNamespace

import pytest
import torch

import helpers
from helpers.engine import device as dev


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)


def fake_gpus(monkeypatch, names, *, hip="6.4.1", cuda=None, archs=None):
    """A machine with len(names) GPUs; records which index each question asked about."""
    asked = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(names))
    monkeypatch.setattr(torch.version, "hip", hip, raising=False)
    monkeypatch.setattr(torch.version, "cuda", cuda)

    def name(index=0):
        asked.append(("name", index))
        return names[index]

    def props(index=0):
        asked.append(("props", index))
        return SimpleNamespace(gcnArchName=archs[index]) if archs else SimpleNamespace()

    monkeypatch.setattr(torch.cuda, "get_device_name", name)
    monkeypatch.setattr(torch.cuda, "get_device_properties", props)
    return asked


def test_with_no_choice_and_no_environment_the_device_is_auto(monkeypatch, no_gpu):
    monkeypatch.delenv(dev.DEVICE_ENV, raising=False)
    assert dev.get_device() == torch.device("cpu")
    assert dev.describe_device().startswith("CPU: ")


@pytest.mark.parametrize("choice", ["cuda", "GPU", "rocm", "auto"])
def test_a_visible_gpu_is_chosen_for_every_gpu_name(monkeypatch, choice):
    fake_gpus(monkeypatch, ["AMD Instinct MI300X"])
    assert dev.get_device(choice) == torch.device("cuda")


def test_apple_mps_is_chosen_when_present_and_explained_when_not(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.get_device("mps") == torch.device("mps")
    assert dev.get_device("auto") == torch.device("mps")
    assert dev.resolve("mps") == torch.device("mps") and dev.resolve(torch.device("mps")) == torch.device("mps")
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(dev.DeviceUnavailableError) as err:
        dev.resolve(torch.device("mps"))
    assert err.value.ja.startswith("Apple MPS は使えません") and err.value.en.startswith("Apple MPS is not available")


def test_mps_availability_follows_the_build(monkeypatch):
    monkeypatch.setattr(torch.backends, "mps", SimpleNamespace(is_available=lambda: True), raising=False)
    assert dev._mps_available() is True
    monkeypatch.setattr(torch.backends, "mps", SimpleNamespace(is_available=lambda: False))
    assert dev._mps_available() is False
    monkeypatch.delattr(torch.backends, "mps")
    assert dev._mps_available() is False


def test_an_unknown_choice_lists_every_accepted_name():
    with pytest.raises(dev.DeviceChoiceError) as err:
        dev.get_device("tpu")
    assert "auto, cpu, cuda, gpu, rocm, mps" in err.value.ja and "(got 'tpu')" in err.value.en
    with pytest.raises(dev.DeviceChoiceError) as err:
        dev.resolve("tpu:0")
    assert "auto, cpu, cuda, gpu, rocm, mps" in err.value.ja and "auto, cpu, cuda, gpu, rocm, mps" in err.value.en


def test_a_gpu_number_past_the_last_is_named_with_the_range(monkeypatch):
    fake_gpus(monkeypatch, ["GPU A", "GPU B"])
    assert dev.resolve("cuda:1") == torch.device("cuda", 1)
    assert dev.resolve("cuda") == torch.device("cuda")
    with pytest.raises(dev.DeviceUnavailableError) as err:
        dev.resolve("cuda:2")
    assert err.value.ja == "GPU 2 はありません。見えている GPU は 2 台です(0 から 1)。"
    assert err.value.en == "There is no GPU 2: 2 GPU(s) are visible (0 to 1)."


def test_the_line_names_the_gpu_that_was_asked_for(monkeypatch):
    asked = fake_gpus(monkeypatch, ["AMD Radeon PRO W7900", "AMD Instinct MI300X"], archs=["gfx1100", "gfx942:xnack-"])
    assert dev.describe_device("cuda:1") == "ROCm (HIP 6.4): AMD Instinct MI300X (gfx942)"
    assert asked == [("name", 1), ("props", 1)]
    asked.clear()
    assert dev.describe_device("cuda") == "ROCm (HIP 6.4): AMD Radeon PRO W7900 (gfx1100)"
    assert asked == [("name", 0), ("props", 0)]
    assert dev.gfx_arch() == "gfx1100"


def test_a_rocm_gpu_without_an_architecture_name_gets_no_brackets(monkeypatch):
    fake_gpus(monkeypatch, ["AMD Radeon RX 7900 XTX"])
    assert dev.gfx_arch(0) == ""
    assert dev.describe_device("cuda") == "ROCm (HIP 6.4): AMD Radeon RX 7900 XTX"
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index=0: SimpleNamespace(gcnArchName=None))
    assert dev.gfx_arch(0) == ""


def test_a_cuda_build_is_told_from_a_rocm_one(monkeypatch):
    fake_gpus(monkeypatch, ["NVIDIA H200"], hip="", cuda="12.8")
    assert dev.build() == "cuda"
    assert dev.describe_device("cuda:0") == "CUDA 12.8: NVIDIA H200"
    monkeypatch.setattr(torch.version, "cuda", None)
    assert dev.build() == "cpu"


def test_a_pytorch_that_predates_rocm_and_mps_is_a_cpu_build_without_mps(monkeypatch):
    """torch.version.hip and torch.backends.mps are missing from older or slimmer builds: no error, no GPU."""
    monkeypatch.setattr(torch, "version", SimpleNamespace(cuda=None))
    assert dev.build() == "cpu"
    monkeypatch.setattr(torch, "version", SimpleNamespace(cuda="11.8"))
    assert dev.build() == "cuda"
    monkeypatch.setattr(torch, "backends", SimpleNamespace())  # torch.backends rebuilds a deleted .mps itself
    assert dev._mps_available() is False


@pytest.mark.parametrize("threads, line", [(1, "CPU: 1 thread"), (2, "CPU: 2 threads"), (16, "CPU: 16 threads")])
def test_the_cpu_line_counts_threads_in_good_english(monkeypatch, threads, line):
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    assert dev.describe_device("cpu") == line


@pytest.mark.parametrize("variable", ["HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"])
@pytest.mark.parametrize("value", ["", "-1", " -1 "])
def test_each_variable_that_hides_the_gpus_is_named(variable, value):
    ja, en = dev.explain_no_gpu(kind="cuda", torch_version="2.x", env={variable: value})
    assert f"unset {variable}" in ja and f"Fix: unset {variable} and start Jupyter again." in en


def test_several_hiding_variables_are_listed_together_and_a_visible_one_is_not():
    env = {"HIP_VISIBLE_DEVICES": "-1", "CUDA_VISIBLE_DEVICES": "", "ROCR_VISIBLE_DEVICES": "0"}
    _, en = dev.explain_no_gpu(kind="rocm", torch_version="2.x", kfd_present=True, env=env)
    assert "but HIP_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES hides every GPU" in en
    _, en = dev.explain_no_gpu(kind="rocm", torch_version="2.x", kfd_present=True, env={"HIP_VISIBLE_DEVICES": "0"})
    assert "HSA_OVERRIDE_GFX_VERSION" in en


def test_the_explanation_reads_this_machine_when_not_told(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    _, en = dev.explain_no_gpu(kind="cuda")
    assert "CUDA_VISIBLE_DEVICES hides every GPU" in en and f"PyTorch {torch.__version__} " in en
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    for var in ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"):
        monkeypatch.delenv(var, raising=False)
    checked = []

    class FakePath:
        def __init__(self, path):
            checked.append(path)

        def exists(self):
            return True

    monkeypatch.setattr(dev, "Path", FakePath)
    _, en = dev.explain_no_gpu(kind="rocm", torch_version="2.x")
    assert checked == ["/dev/kfd"] and "the driver is there" in en
    _, en = dev.explain_no_gpu(kind="rocm", torch_version="2.x", kfd_present=False)
    assert "/dev/kfd is missing" in en


def test_a_gpu_asked_for_on_a_cpu_build_names_both_wheels(no_gpu, monkeypatch):
    monkeypatch.setattr(torch.version, "hip", None, raising=False)
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(helpers.DeviceUnavailableError) as err:
        dev.get_device("gpu")
    assert "CPU-only build" in err.value.en and dev.ROCM_WHEEL in err.value.en and dev.CUDA_WHEEL in err.value.ja


def test_synchronize_waits_for_apple_mps_too(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("cuda"))
    dev.synchronize("mps")
    dev.synchronize(torch.device("cpu"))
    assert calls == ["mps"]
