"""Choose and describe the device: ROCm (HIP), CUDA, Apple MPS or the CPU (every setup cell uses it).

ROCm builds of PyTorch report an AMD GPU as "cuda" (HIP stands in for CUDA), so the backend is told
apart by what the build was compiled for: torch.version.hip, torch.version.cuda, or neither.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .text import BilingualError

DEVICE_ENV = "TRAINING_FLOW_DEVICE"
CHOICES = ("auto", "cpu", "cuda", "gpu", "rocm", "mps")

ROCM_WHEEL = "https://download.pytorch.org/whl/rocm6.4"
CUDA_WHEEL = "https://download.pytorch.org/whl/cu128"


class DeviceUnavailableError(BilingualError):
    """A device was asked for that this machine or this PyTorch build cannot use."""


class DeviceChoiceError(BilingualError, ValueError):
    """A device name that is none of the accepted ones."""


def build() -> str:
    """What this PyTorch was compiled for: "rocm", "cuda" or "cpu"."""
    if getattr(torch.version, "hip", None):
        return "rocm"
    if torch.version.cuda:
        return "cuda"
    return "cpu"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def get_device(prefer: str | None = None) -> torch.device:
    """The device to train on: "auto" (GPU, else Apple MPS, else CPU), "cpu", "cuda"/"gpu"/"rocm", "mps".

    With no argument the environment variable TRAINING_FLOW_DEVICE decides, else "auto".
    """
    prefer = (prefer or os.environ.get(DEVICE_ENV) or "auto").lower()
    if prefer not in CHOICES:
        raise DeviceChoiceError(f"デバイスは {', '.join(CHOICES)} のどれかです(指定: {prefer!r})。",
                                f"The device must be one of {', '.join(CHOICES)} (got {prefer!r}).")
    if prefer == "cpu":
        return torch.device("cpu")
    if prefer == "mps":
        if _mps_available():
            return torch.device("mps")
        raise DeviceUnavailableError(
            "Apple MPS は使えません(Apple シリコンの macOS と MPS 対応の PyTorch が必要です)。",
            "Apple MPS is not available (it needs macOS on Apple silicon and a PyTorch with MPS).",
        )
    if torch.cuda.is_available():
        return torch.device("cuda")
    if prefer == "auto":
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    raise DeviceUnavailableError(*explain_no_gpu())


def resolve(device) -> torch.device:
    """A usable torch.device from a name ("cpu", "cuda", "cuda:1", "gpu", "mps", "auto") or a torch.device."""
    if isinstance(device, str) and device.lower() in CHOICES:
        return get_device(device)
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise DeviceChoiceError(
            f"デバイスは torch.device か {', '.join(CHOICES)}、\"cuda:1\" のような名前です"
            f"({device!r} が渡されました)。",
            f"The device must be a torch.device or one of {', '.join(CHOICES)}, or a name such as "
            f"\"cuda:1\" (got {device!r}).") from None
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(*explain_no_gpu())
        count = torch.cuda.device_count()
        if chosen.index is not None and chosen.index >= count:
            raise DeviceUnavailableError(
                f"GPU {chosen.index} はありません。見えている GPU は {count} 台です(0 から {count - 1})。",
                f"There is no GPU {chosen.index}: {count} GPU(s) are visible (0 to {count - 1}).")
    elif chosen.type == "mps":
        return get_device("mps")
    elif chosen.type != "cpu":
        raise DeviceChoiceError(f"このシリーズで使えるデバイスは CPU・GPU・Apple MPS です({device!r})。",
                                f"This series trains on the CPU, a GPU or Apple MPS (got {device!r}).")
    return chosen


def explain_no_gpu(
    kind: str | None = None,
    torch_version: str | None = None,
    kfd_present: bool | None = None,
    env: dict[str, str] | None = None,
) -> tuple[str, str]:
    """(Japanese, English): what was found instead of a usable GPU, and the likely fix."""
    kind = kind or build()
    torch_version = torch_version or torch.__version__
    env = dict(os.environ) if env is None else env
    found_ja = f"GPU が見つかりません。PyTorch {torch_version}"
    found_en = f"No usable GPU. PyTorch {torch_version}"
    if kind == "cpu":
        return (
            f"{found_ja} は CPU 専用のビルドです。\n"
            "直し方: GPU 用の PyTorch を入れ直します。AMD なら\n"
            f"  make clean-venv && make lab TORCH=torch TORCH_INDEX={ROCM_WHEEL}\n"
            f"NVIDIA なら TORCH_INDEX={CUDA_WHEEL} にします(README 参照)。",
            f"{found_en} is a CPU-only build.\n"
            "Fix: reinstall PyTorch built for your GPU. For AMD:\n"
            f"  make clean-venv && make lab TORCH=torch TORCH_INDEX={ROCM_WHEEL}\n"
            f"for NVIDIA use TORCH_INDEX={CUDA_WHEEL} (see README).",
        )
    hidden = [k for k in ("HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")
              if k in env and env[k].strip() in ("", "-1")]
    if hidden:
        names = ", ".join(hidden)
        return (
            f"{found_ja} は GPU 用ですが、環境変数 {names} が GPU を隠しています。\n"
            f"直し方: unset {names} してから Jupyter を起動し直します。",
            f"{found_en} is a GPU build, but {names} hides every GPU.\n"
            f"Fix: unset {names} and start Jupyter again.",
        )
    if kind == "rocm":
        if kfd_present is None:
            kfd_present = Path("/dev/kfd").exists()
        if not kfd_present:
            return (
                f"{found_ja} は ROCm 用ですが、/dev/kfd がありません(AMD GPU ドライバが見えません)。\n"
                "直し方: ROCm ドライバ(amdgpu)を入れ、ユーザーを render と video グループに加えます。"
                "コンテナなら --device=/dev/kfd --device=/dev/dri を付けて起動します。",
                f"{found_en} is a ROCm build, but /dev/kfd is missing (no AMD GPU driver is visible).\n"
                "Fix: install the ROCm driver (amdgpu) and add your user to the render and video groups; "
                "in a container, start it with --device=/dev/kfd --device=/dev/dri.",
            )
        return (
            f"{found_ja} は ROCm 用で、ドライバもありますが、GPU が ROCm の対応外のようです"
            "(家庭用 Radeon によくあります)。\n"
            "直し方: 近い対応 GPU のふりをさせます。RDNA2 (gfx103x) なら "
            "HSA_OVERRIDE_GFX_VERSION=10.3.0、RDNA3 (gfx110x) なら HSA_OVERRIDE_GFX_VERSION=11.0.0 を"
            "設定してから Jupyter を起動します。rocminfo で gfx 番号を確かめられます。",
            f"{found_en} is a ROCm build and the driver is there, but the GPU looks unsupported by "
            "ROCm (common with consumer Radeon cards).\n"
            "Fix: let it pass as a close supported GPU: set HSA_OVERRIDE_GFX_VERSION=10.3.0 for RDNA2 "
            "(gfx103x) or HSA_OVERRIDE_GFX_VERSION=11.0.0 for RDNA3 (gfx110x) before starting Jupyter. "
            "rocminfo shows your gfx number.",
        )
    return (
        f"{found_ja} は CUDA 用ですが、NVIDIA のドライバが GPU を見つけられません。\n"
        "直し方: nvidia-smi が GPU を表示するか確かめ、出なければ NVIDIA ドライバを入れ直します。"
        "ドライバが PyTorch の CUDA より古いときも同じことが起きます。",
        f"{found_en} is a CUDA build, but the NVIDIA driver finds no GPU.\n"
        "Fix: check that nvidia-smi lists your GPU, else reinstall the NVIDIA driver; a driver older "
        "than PyTorch's CUDA gives the same result.",
    )


def gfx_arch(index: int = 0) -> str:
    """The AMD architecture name of a ROCm GPU, e.g. "gfx942"; "" where PyTorch does not report it."""
    arch = getattr(torch.cuda.get_device_properties(index), "gcnArchName", "") or ""
    return arch.split(":")[0]


def synchronize(device) -> None:
    """Wait for the GPU's queued work: GPU work runs asynchronously, so a clock read early stops too soon."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def describe_device(device: torch.device | str | None = None) -> str:
    """One honest line: "ROCm (HIP 6.4): AMD Instinct MI300X (gfx942)", "CUDA 12.8: NVIDIA H100",
    "Apple MPS", or "CPU: 2 threads"."""
    device = torch.device(device) if device is not None else get_device()
    if device.type == "cuda":
        index = device.index or 0
        name = torch.cuda.get_device_name(index)
        if build() == "rocm":
            hip = ".".join(torch.version.hip.split(".")[:2])
            arch = gfx_arch(index)
            return f"ROCm (HIP {hip}): {name}" + (f" ({arch})" if arch else "")
        return f"CUDA {torch.version.cuda}: {name}"
    if device.type == "mps":
        return "Apple MPS (Metal)"
    threads = torch.get_num_threads()
    return f"CPU: {threads} thread{'s' if threads != 1 else ''}"
