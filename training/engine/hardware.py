"""What this machine has: GPUs, CUDA / cuDNN / NCCL, NVLink, optional NVIDIA libraries, CPU, RAM.

Nothing here initializes CUDA at import; `detect_hardware()` does, so call it in the process that
will use the GPU (never in a django-q2 parent before it forks).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field


@dataclass
class GpuInfo:
    index: int
    name: str
    memory_gb: float
    compute_capability: tuple[int, int]


@dataclass
class HardwareInfo:
    cuda_available: bool = False
    gpus: list[GpuInfo] = field(default_factory=list)
    cuda_version: str | None = None
    cudnn_version: int | None = None
    nccl_version: str | None = None
    nvlink: str | None = None  # what the driver says, or None where it says nothing
    libraries: dict = field(default_factory=dict)  # name -> {"importable": bool, "usable": bool, "reason": str}
    cpu_cores: int = 1
    ram_gb: float | None = None
    torch_version: str = ""

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    @property
    def min_compute_capability(self) -> tuple[int, int] | None:
        return min((g.compute_capability for g in self.gpus), default=None)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["gpu_count"] = self.gpu_count
        return out


def _library(name: str, module: str, *, needs_cuda: bool, cuda: bool, min_cc=None, cc=None) -> dict:
    try:
        importlib.import_module(module)
    except Exception as exc:  # ImportError, or a wheel built for another CUDA that fails to load
        return {
            "importable": False,
            "usable": False,
            "reason": f"{name} not importable ({type(exc).__name__}: {exc})"[:200],
        }
    if needs_cuda and not cuda:
        return {"importable": True, "usable": False, "reason": f"{name} imports but there is no CUDA device"}
    if min_cc and cc and cc < min_cc:
        return {
            "importable": True,
            "usable": False,
            "reason": f"{name} needs compute capability >= {min_cc[0]}.{min_cc[1]}, this GPU has {cc[0]}.{cc[1]}",
        }
    return {"importable": True, "usable": True, "reason": f"{name} available"}


def _nvlink() -> str | None:
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "topo", "-m"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return (
        "NVLink between GPUs"
        if "NV" in out.replace("NVIDIA", "")
        else "no NVLink reported (PCIe/SXM without NVLink links)"
    )


def _ram_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def detect_hardware() -> HardwareInfo:
    import torch

    info = HardwareInfo(cpu_cores=os.cpu_count() or 1, ram_gb=_ram_gb(), torch_version=torch.__version__)
    info.cuda_available = torch.cuda.is_available()
    if info.cuda_available:
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            info.gpus.append(GpuInfo(i, props.name, round(props.total_memory / 2**30, 1), (props.major, props.minor)))
        info.cuda_version = torch.version.cuda
        info.cudnn_version = torch.backends.cudnn.version()
        try:
            info.nccl_version = ".".join(map(str, torch.cuda.nccl.version()))
        except Exception:
            info.nccl_version = None
        info.nvlink = _nvlink() if info.gpu_count > 1 else None
    cc = info.min_compute_capability
    info.libraries = {
        "flash_attn": _library(
            "flash-attn", "flash_attn", needs_cuda=True, cuda=info.cuda_available, min_cc=(8, 0), cc=cc
        ),
        "dali": _library("NVIDIA DALI", "nvidia.dali", needs_cuda=True, cuda=info.cuda_available),
        "apex": _library("NVIDIA apex", "apex.optimizers", needs_cuda=True, cuda=info.cuda_available),
    }
    return info
