"""The optimization stack, chosen from the hardware and the user's choices - an explicit choice
always wins - with the reason for every decision recorded."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .hardware import HardwareInfo

PRECISIONS = ("32-true", "16-mixed", "bf16-mixed")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass
class UserChoices:
    """None = decide from the hardware."""

    precision: str | None = None
    compile: bool | None = None
    compile_mode: str = "default"
    fused_optimizer: bool | None = None
    flash_attention: bool | None = None
    num_gpus: int | None = None
    num_nodes: int = 1
    cpu_processes: int = 1  # DDP over CPU processes (gloo) where there is no GPU
    cudnn_benchmark: bool | None = None
    gradient_accumulation: int = 1
    gradient_checkpointing: bool = False
    channels_last: bool | None = None
    dali: bool | None = None
    resident_data: bool | None = None  # keep the windows on the GPU and cut batches there
    num_workers: int | None = None


@dataclass
class OptimizationConfig:
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    compile: bool = False
    compile_mode: str = "default"
    optimizer: str = "adamw"  # adamw | adamw_fused | apex_fused_adam
    flash_attention: bool = False
    cudnn_benchmark: bool = False
    gradient_accumulation: int = 1
    gradient_checkpointing: bool = False
    channels_last: bool = False
    loader: str = "dataloader"  # dataloader | dali | resident
    pin_memory: bool = False
    num_workers: int = 0
    decisions: list = field(default_factory=list)  # [{"name", "value", "reason"}]

    def _decide(self, name: str, value, reason: str) -> None:
        setattr(self, name, value)
        self.decisions.append({"name": name, "value": value, "reason": reason})

    def as_dict(self) -> dict:
        return asdict(self)


def build_config(
    hw: HardwareInfo, choices: UserChoices | None = None, *, denoiser: str = "transformer"
) -> OptimizationConfig:
    c = choices or UserChoices()
    for name in (
        "cpu_processes",
        "num_workers",
    ):  # processes it would start: at most the cores (the service checks first)
        value = getattr(c, name)
        if value is not None and value > max(1, hw.cpu_cores):
            raise ValueError(f"{name} must be at most this machine's {hw.cpu_cores} cores, not {value}")
    cfg = OptimizationConfig()
    cuda = hw.cuda_available and hw.gpu_count > 0
    cc = hw.min_compute_capability
    libs = hw.libraries or {}

    # Devices and distribution
    if c.num_gpus is not None and c.num_gpus > 0:
        if not cuda or c.num_gpus > hw.gpu_count:
            raise ValueError(f"asked for {c.num_gpus} GPU(s) but {hw.gpu_count} CUDA device(s) are available here")
        cfg._decide("accelerator", "gpu", f"user asked for {c.num_gpus} GPU(s)")
        cfg._decide("devices", c.num_gpus, "user choice")
    elif c.num_gpus == 0 or not cuda:
        cfg._decide(
            "accelerator", "cpu", "user asked for CPU" if c.num_gpus == 0 else "no CUDA device: training on the CPU"
        )
        cfg._decide(
            "devices",
            max(1, c.cpu_processes),
            "CPU processes (DDP over gloo when > 1)" if c.cpu_processes > 1 else "one CPU process",
        )
    else:
        cfg._decide("accelerator", "gpu", f"{hw.gpu_count} CUDA device(s) detected")
        cfg._decide("devices", hw.gpu_count, "all detected GPUs")
    cfg._decide("num_nodes", max(1, c.num_nodes), "user choice" if c.num_nodes > 1 else "one machine")
    distributed = cfg.devices * cfg.num_nodes > 1
    cfg._decide(
        "strategy",
        "ddp" if distributed else "auto",
        "DDP: one process per device, distributed sampling, rank-0 checkpoint writes"
        if distributed
        else "a single process",
    )
    on_gpu = cfg.accelerator == "gpu"

    # Precision
    if c.precision:
        if c.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {c.precision!r}")
        cfg._decide("precision", c.precision, "user choice")
    elif on_gpu and cc and cc >= (8, 0):
        cfg._decide("precision", "bf16-mixed", f"bf16 on: compute capability {cc[0]}.{cc[1]} >= 8.0")
    elif on_gpu:
        cfg._decide(
            "precision",
            "16-mixed",
            f"fp16 with loss scaling: compute capability {cc[0]}.{cc[1]} < 8.0 has no fast bf16",
        )
    else:
        cfg._decide("precision", "32-true", "bf16 off: no CUDA device (fp32 on the CPU unless asked)")

    # torch.compile
    if c.compile is not None:
        cfg._decide("compile", c.compile, "user choice")
    else:
        cfg._decide(
            "compile",
            on_gpu,
            "torch.compile on: CUDA device"
            if on_gpu
            else "torch.compile off: no CUDA device (compile time outweighs the gain on CPU)",
        )
    if c.compile_mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, not {c.compile_mode!r}")
    cfg._decide(
        "compile_mode",
        c.compile_mode,
        "user choice"
        if c.compile_mode != "default"
        else "default mode (reduce-overhead, CUDA graphs, measured faster in the speedup table but not yet in a full GPU training run)",
    )

    # Optimizer
    apex_ok = libs.get("apex", {}).get("usable", False)
    if c.fused_optimizer is False:
        cfg._decide("optimizer", "adamw", "user turned fused optimizers off")
    elif on_gpu and apex_ok:
        cfg._decide("optimizer", "apex_fused_adam", "apex FusedAdam: apex is installed and usable")
    elif on_gpu:
        cfg._decide(
            "optimizer",
            "adamw_fused",
            f"torch's fused AdamW on CUDA ({libs.get('apex', {}).get('reason', 'apex not detected')})",
        )
    else:
        reason = (
            "fused AdamW needs CUDA: asked for, but no CUDA device"
            if c.fused_optimizer
            else "fused AdamW off: no CUDA device"
        )
        cfg._decide("optimizer", "adamw", reason)

    # Flash attention
    flash = libs.get("flash_attn", {"usable": False, "reason": "flash-attn not detected"})
    if c.flash_attention is False:
        cfg._decide("flash_attention", False, "user turned flash attention off")
    elif flash.get("usable") and on_gpu:
        cfg._decide("flash_attention", True, "flash-attn kernel: installed and the GPU supports it")
    else:
        prefix = "asked for, but " if c.flash_attention else ""
        cfg._decide(
            "flash_attention",
            False,
            f"{prefix}{flash.get('reason')}; attention uses torch's scaled_dot_product_attention",
        )

    # cuDNN autotune, accumulation, checkpointing, channels-last
    if c.cudnn_benchmark is not None:
        cfg._decide("cudnn_benchmark", c.cudnn_benchmark, "user choice")
    else:
        cfg._decide(
            "cudnn_benchmark",
            on_gpu,
            "cuDNN autotune on: fixed input shapes on CUDA" if on_gpu else "cuDNN autotune off: no CUDA device",
        )
    if c.gradient_accumulation < 1:
        raise ValueError("gradient_accumulation must be at least 1")
    cfg._decide(
        "gradient_accumulation",
        c.gradient_accumulation,
        "user choice" if c.gradient_accumulation > 1 else "no accumulation",
    )
    cfg._decide(
        "gradient_checkpointing",
        c.gradient_checkpointing,
        "user choice: recompute denoiser blocks in the backward pass (less memory, more compute)"
        if c.gradient_checkpointing
        else "off (memory is not the limit by default)",
    )
    # channels-last is a layout of 4-D (N, C, H, W) tensors: torch leaves the 1-D U-Net's 3-D conv
    # weights and activations as they are, so it can change nothing here and is never turned on.
    prefix = "asked for, but " if c.channels_last else ""
    cfg._decide(
        "channels_last",
        False,
        f"{prefix}off: channels-last applies to 2-D convolutions; the denoisers here are "
        f"{'1-D convolutions' if denoiser == 'unet' else 'a transformer'}",
    )

    # Data loading
    dali = libs.get("dali", {"usable": False, "reason": "NVIDIA DALI not detected"})
    if on_gpu and c.resident_data is not False and not c.dali:
        cfg._decide(
            "loader",
            "resident",
            "windows kept on the GPU, batches cut there: no per-batch copy or collate "
            "(H200: 18.8M samples/s vs 172k for a pinned 4-worker DataLoader, bench/gpu_check.sh); "
            "falls back to a DataLoader when they would take over a quarter of free GPU memory",
        )
    elif c.dali is not False and dali.get("usable") and on_gpu:
        cfg._decide("loader", "dali", "NVIDIA DALI: installed and usable")
    else:
        cfg._decide(
            "loader",
            "dataloader",
            f"{'user turned DALI off' if c.dali is False else dali.get('reason')}; "
            f"a DataLoader{' with pinned memory' if on_gpu else ''}",
        )
    cfg._decide(
        "pin_memory", on_gpu, "pinned host memory for faster copies to the GPU" if on_gpu else "no GPU to copy to"
    )
    workers = c.num_workers if c.num_workers is not None else (min(4, max(0, hw.cpu_cores - 1)) if on_gpu else 0)
    cfg._decide(
        "num_workers",
        workers,
        "user choice"
        if c.num_workers is not None
        else ("loader workers beside the GPU" if on_gpu else "in-process loading (small in-memory windows)"),
    )
    return cfg
