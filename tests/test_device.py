from types import SimpleNamespace

import pytest
import torch

from helpers.engine import device as dev


def test_cpu_line_names_threads():
    line = dev.describe_device("cpu")
    assert line == f"CPU: {torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}"


def test_cpu_is_always_available():
    assert dev.get_device("cpu") == torch.device("cpu")


def test_environment_variable_chooses(monkeypatch):
    monkeypatch.setenv(dev.DEVICE_ENV, "cpu")
    assert dev.get_device() == torch.device("cpu")


def test_auto_falls_back_to_cpu_without_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert dev.get_device("auto") == torch.device("cpu")


def test_unknown_choice_is_refused_in_both_languages():
    with pytest.raises(ValueError) as err:
        dev.get_device("tpu")
    assert "デバイス" in str(err.value) and "must be one of" in str(err.value)


@pytest.mark.parametrize("choice", ["cuda", "gpu", "rocm"])
def test_gpu_asked_but_absent_explains_in_both_languages(monkeypatch, choice):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(dev.DeviceUnavailableError) as err:
        dev.get_device(choice)
    message = str(err.value)
    assert "GPU が見つかりません" in message and "No usable GPU" in message
    assert torch.__version__ in message  # names what was found


def test_mps_asked_but_absent(monkeypatch):
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(dev.DeviceUnavailableError, match="MPS"):
        dev.get_device("mps")


def test_cpu_wheel_hint_points_to_gpu_builds():
    ja, en = dev.explain_no_gpu(kind="cpu", torch_version="2.13.0+cpu", env={})
    assert "CPU 専用" in ja and "CPU-only build" in en
    assert dev.ROCM_WHEEL in en and dev.CUDA_WHEEL in en


def test_rocm_without_driver_names_dev_kfd():
    ja, en = dev.explain_no_gpu(kind="rocm", torch_version="2.8.0+rocm6.4", kfd_present=False, env={})
    assert "/dev/kfd" in ja and "/dev/kfd" in en and "render" in en


def test_rocm_consumer_gpu_suggests_gfx_override():
    ja, en = dev.explain_no_gpu(kind="rocm", torch_version="2.8.0+rocm6.4", kfd_present=True, env={})
    for text in (ja, en):
        assert "HSA_OVERRIDE_GFX_VERSION=10.3.0" in text and "HSA_OVERRIDE_GFX_VERSION=11.0.0" in text


def test_cuda_without_driver_suggests_nvidia_smi():
    ja, en = dev.explain_no_gpu(kind="cuda", torch_version="2.8.0+cu128", env={})
    assert "nvidia-smi" in ja and "nvidia-smi" in en


def test_hidden_gpus_are_named():
    ja, en = dev.explain_no_gpu(kind="rocm", torch_version="x", kfd_present=True,
                                env={"HIP_VISIBLE_DEVICES": ""})
    assert "HIP_VISIBLE_DEVICES" in ja and "HIP_VISIBLE_DEVICES" in en


def fake_gpu(monkeypatch, *, hip, cuda, name, arch=None):
    monkeypatch.setattr(torch.version, "hip", hip, raising=False)
    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: name)
    props = SimpleNamespace(gcnArchName=arch) if arch else SimpleNamespace()
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index=0: props)


def test_rocm_line_names_hip_gpu_and_arch(monkeypatch):
    fake_gpu(monkeypatch, hip="6.4.43482-0f2d60242", cuda=None, name="AMD Instinct MI300X",
             arch="gfx942:sramecc+:xnack-")
    assert dev.build() == "rocm"
    assert dev.describe_device("cuda") == "ROCm (HIP 6.4): AMD Instinct MI300X (gfx942)"


def test_cuda_line(monkeypatch):
    fake_gpu(monkeypatch, hip=None, cuda="12.8", name="NVIDIA H100 80GB HBM3")
    assert dev.build() == "cuda"
    assert dev.describe_device("cuda") == "CUDA 12.8: NVIDIA H100 80GB HBM3"


def test_mps_line():
    assert dev.describe_device("mps") == "Apple MPS (Metal)"


def test_build_of_this_wheel_matches_torch_version():
    expected = "rocm" if torch.version.hip else "cuda" if torch.version.cuda else "cpu"
    assert dev.build() == expected


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine")
def test_real_gpu_line():
    line = dev.describe_device("cuda")
    assert line.startswith("ROCm (HIP " if torch.version.hip else "CUDA ")
    assert torch.cuda.get_device_name(0) in line


def test_synchronize_waits_only_where_work_is_queued(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(("cuda", device)))
    dev.synchronize("cpu")
    assert calls == []
    dev.synchronize(torch.device("cuda", 0))
    assert calls == [("cuda", torch.device("cuda", 0))]
