"""A conditional diffusion forecaster: a transformer context encoder and a denoiser over the horizon
path (a transformer or a 1-D temporal U-Net), cosine noise schedule, v-prediction, DDPM training,
sampling by an ODE solver of `sampling` (DPM-Solver++(2M) by default, DDIM on request). Attention
goes through torch's scaled_dot_product_attention, or flash-attn's kernel when it is installed, on a
GPU that supports it, and asked for; CPU inference writes it out (faster for the horizon's tokens)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .forecast import recalibrate, shrink_drift
from .sampling import DEFAULT_SAMPLER, DEFAULT_STEPS, check_sampler, solve

# Sample paths solved together on the CPU, so the denoiser's activations stay in cache (200 paths x
# 12 tokens x 256 MLP features: 2.4 MB): per path, batches of 100-200 ran twice as fast as batches
# of 2,400 or more on the 2-core EPYC, with 1 or 2 threads.
CPU_PATHS_PER_BATCH = 200
SAMPLE_PRECISIONS = ("fp32", "bf16")


def inference_precision(device: str | torch.device) -> str:
    """What forecasts run in on `device`: bf16 on a CUDA GPU that supports it (measured on an H100 by
    bench/gpu_forecast.sh: 1.36-1.40x the fp32 forecasts/s at CRPS +0.025% and q05-q95 coverage
    -0.04 points), fp32 elsewhere (bf16 autocast on this CPU ran about 10x slower than fp32)."""
    if torch.device(device).type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def flash_attention_fn():
    """flash-attn's packed-QKV kernel, or None when the package is absent."""
    try:
        from flash_attn import flash_attn_qkvpacked_func
    except Exception:  # ImportError, or a build that fails to load its CUDA library
        return None
    return flash_attn_qkvpacked_func


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, *, use_flash: bool = False):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.use_flash = use_flash
        self._flash = flash_attention_fn() if use_flash else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.heads, self.head_dim)
        if self._flash is not None and x.is_cuda and x.dtype in (torch.float16, torch.bfloat16):
            y = self._flash(qkv).reshape(b, t, d)
        elif not x.is_cuda and not torch.is_grad_enabled():
            # CPU inference, written out: torch's CPU softmax over a last dimension of 12 (the horizon)
            # ran 10x slower than over 16, and with SDPA's CPU kernel the denoiser ran 1.3x slower
            q, k, v = qkv.permute(2, 0, 3, 1, 4).contiguous()
            scores = torch.matmul(q, k.transpose(-1, -2)).mul_(self.head_dim**-0.5)
            scores = scores.sub_(scores.amax(dim=-1, keepdim=True)).exp_()
            y = torch.matmul(scores.div_(scores.sum(dim=-1, keepdim=True)), v).transpose(1, 2).reshape(b, t, d)
        else:
            q, k, v = qkv.permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        return self.out(y)


class Block(nn.Module):
    """Pre-norm transformer block; with `cond_dim`, adaptive layer norm (scale/shift from the condition)."""

    def __init__(self, dim: int, heads: int, cond_dim: int | None = None, *, use_flash: bool = False):
        super().__init__()
        self.norm1, self.norm2 = (
            nn.LayerNorm(dim, elementwise_affine=cond_dim is None),
            nn.LayerNorm(dim, elementwise_affine=cond_dim is None),
        )
        self.attn = Attention(dim, heads, use_flash=use_flash)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.ada = nn.Linear(cond_dim, 4 * dim) if cond_dim else None
        if self.ada is not None:
            nn.init.zeros_(self.ada.weight)
            nn.init.zeros_(self.ada.bias)

    def forward(self, x, cond=None):
        if self.ada is None:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        s1, b1, s2, b2 = self.ada(cond)[:, None, :].chunk(4, dim=-1)
        x = x + self.attn(self.norm1(x) * (1 + s1) + b1)
        return x + self.mlp(self.norm2(x) * (1 + s2) + b2)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of diffusion time t in [0, 1]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = 1000 * t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class ContextEncoder(nn.Module):
    def __init__(self, channels: int, patch_len: int, dim: int, layers: int, heads: int, *, use_flash: bool = False):
        super().__init__()
        self.inp = nn.Linear(channels, dim)
        self.pos = nn.Parameter(torch.zeros(1, patch_len, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, use_flash=use_flash) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(2 * dim, dim)

    def forward(self, x):
        h = self.inp(x) + self.pos[:, : x.shape[1]]
        for block in self.blocks:
            h = block(h)
        h = self.norm(h)
        return self.out(torch.cat([h.mean(dim=1), h[:, -1]], dim=-1))  # the whole window and its last bar


class TransformerDenoiser(nn.Module):
    def __init__(
        self, horizon: int, dim: int, layers: int, heads: int, *, use_flash: bool = False, grad_checkpoint: bool = False
    ):
        super().__init__()
        self.inp = nn.Linear(1, dim)
        self.pos = nn.Parameter(torch.zeros(1, horizon, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, cond_dim=dim, use_flash=use_flash) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, 1)
        self.grad_checkpoint = grad_checkpoint

    def forward(self, x_t, cond):
        h = self.inp(x_t[..., None]) + self.pos
        for block in self.blocks:
            if self.grad_checkpoint and self.training:
                h = checkpoint(block, h, cond, use_reentrant=False)
            else:
                h = block(h, cond)
        return self.out(self.norm(h))[..., 0]


class _ResBlock1D(nn.Module):
    def __init__(self, cin: int, cout: int, cond_dim: int):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv1d(cin, cout, 3, padding=1), nn.Conv1d(cout, cout, 3, padding=1)
        self.norm1, self.norm2 = nn.GroupNorm(1, cin), nn.GroupNorm(1, cout)
        self.film = nn.Linear(cond_dim, 2 * cout)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, cond):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(cond)[:, :, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return self.conv2(F.silu(h)) + self.skip(x)


class UNet1DDenoiser(nn.Module):
    """A small 1-D temporal U-Net over the horizon: two resolutions, skip connections, FiLM conditioning."""

    def __init__(self, horizon: int, dim: int, *, grad_checkpoint: bool = False):
        super().__init__()
        self.horizon = horizon
        self.padded = 2 * math.ceil(horizon / 2)
        self.inp = nn.Conv1d(1, dim, 3, padding=1)
        self.down1, self.down2 = _ResBlock1D(dim, dim, dim), _ResBlock1D(dim, 2 * dim, dim)
        self.mid = _ResBlock1D(2 * dim, 2 * dim, dim)
        self.up2, self.up1 = _ResBlock1D(4 * dim, dim, dim), _ResBlock1D(2 * dim, dim, dim)
        self.out = nn.Conv1d(dim, 1, 3, padding=1)
        self.grad_checkpoint = grad_checkpoint

    def _run(self, block, x, cond):
        if self.grad_checkpoint and self.training:
            return checkpoint(block, x, cond, use_reentrant=False)
        return block(x, cond)

    def forward(self, x_t, cond):
        x = F.pad(x_t[:, None, :], (0, self.padded - self.horizon))
        h0 = self._run(self.down1, self.inp(x), cond)
        h1 = self._run(self.down2, F.avg_pool1d(h0, 2), cond)
        m = self._run(self.mid, h1, cond)
        u = self._run(self.up2, torch.cat([m, h1], dim=1), cond)
        u = self._run(self.up1, torch.cat([F.interpolate(u, scale_factor=2), h0], dim=1), cond)
        return self.out(u)[:, 0, : self.horizon]


class DiffusionForecaster(nn.Module):
    """p(path | context): v-prediction DDPM over T steps of a cosine schedule; `sample` solves its ODE."""

    def __init__(
        self,
        *,
        channels: int,
        patch_len: int = 64,
        horizon: int = 12,
        dim: int = 64,
        layers: int = 2,
        heads: int = 4,
        denoiser: str = "transformer",
        timesteps: int = 1000,
        use_flash: bool = False,
        grad_checkpoint: bool = False,
    ):
        super().__init__()
        self.config = {
            "channels": channels,
            "patch_len": patch_len,
            "horizon": horizon,
            "dim": dim,
            "layers": layers,
            "heads": heads,
            "denoiser": denoiser,
            "timesteps": timesteps,
        }
        self.encoder = ContextEncoder(channels, patch_len, dim, layers, heads, use_flash=use_flash)
        self.time = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        if denoiser == "transformer":
            self.denoiser = TransformerDenoiser(
                horizon, dim, layers, heads, use_flash=use_flash, grad_checkpoint=grad_checkpoint
            )
        elif denoiser == "unet":
            self.denoiser = UNet1DDenoiser(horizon, dim, grad_checkpoint=grad_checkpoint)
        else:
            raise ValueError(f"unknown denoiser {denoiser!r}; choose transformer or unet")
        s = 0.008
        steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
        alpha_bar = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        alpha_bar = (alpha_bar / alpha_bar[0]).clamp(1e-5, 1.0)[1:]
        self.register_buffer("alpha", alpha_bar.sqrt().float(), persistent=False)
        self.register_buffer("sigma", (1 - alpha_bar).sqrt().float(), persistent=False)
        self.timesteps = timesteps

    def _v(self, x_t, step, cond):
        t = (step.float() + 1) / self.timesteps
        return self.denoiser(x_t, cond + self.time(timestep_embedding(t, cond.shape[-1])))

    def loss(self, context: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """DDPM training loss: predict v = alpha eps - sigma x0 at a random step."""
        step = torch.randint(0, self.timesteps, (target.shape[0],), device=target.device)
        alpha, sigma = self.alpha[step][:, None], self.sigma[step][:, None]
        noise = torch.randn_like(target)
        x_t = alpha * target + sigma * noise
        v = self._v(x_t, step, self.encoder(context))
        return F.mse_loss(v.float(), (alpha * noise - sigma * target).float())

    @torch.inference_mode()
    def sample(
        self,
        context: torch.Tensor,
        n_samples: int,
        *,
        steps: int = DEFAULT_STEPS,
        sampler: str = DEFAULT_SAMPLER,
        generator: torch.Generator | None = None,
        paths_per_batch: int | None = None,
        precision: str = "fp32",
    ) -> torch.Tensor:
        """[batch, n_samples, horizon] paths solved from the same noise by `sampler` (dpmpp2m, unipc
        or ddim) with `steps` denoiser evaluations per path. The context encoder runs once per
        window and each step's time embedding once per call; paths are solved `paths_per_batch` at a
        time (default: CPU_PATHS_PER_BATCH on the CPU, all at once on a GPU), which changes no value
        beyond float rounding. `precision` "bf16" runs the encoder and the denoiser under bf16
        autocast while the solver's state and arithmetic stay float32."""
        check_sampler(sampler, steps, self.timesteps)
        if precision not in SAMPLE_PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(SAMPLE_PRECISIONS)}")
        amp = (
            torch.autocast(context.device.type, dtype=torch.bfloat16)
            if precision == "bf16"
            else contextlib.nullcontext()
        )
        b, horizon = context.shape[0], self.config["horizon"]
        with amp:
            cond_windows = self.encoder(context).float()
        noise = torch.randn(b * n_samples, horizon, generator=generator, device="cpu").to(
            context.device, cond_windows.dtype
        )
        alpha, sigma = self.alpha.tolist(), self.sigma.tolist()
        time_cond: dict[int, torch.Tensor] = {}

        def step_embedding(step: int) -> torch.Tensor:
            if step not in time_cond:
                t = (torch.tensor([step], device=context.device).float() + 1) / self.timesteps
                with amp:
                    time_cond[step] = self.time(timestep_embedding(t, cond_windows.shape[-1])).float()
            return time_cond[step]

        def predict(x: torch.Tensor, step: int) -> torch.Tensor:
            with amp:
                return self.denoiser(x, cond + step_embedding(step)).float()

        if paths_per_batch is None:
            paths_per_batch = CPU_PATHS_PER_BATCH if context.device.type == "cpu" else b * n_samples
        per_batch = max(1, paths_per_batch // n_samples)  # whole windows per batch
        out = torch.empty_like(noise)
        for w in range(0, b, per_batch):
            rows = slice(w * n_samples, min(w + per_batch, b) * n_samples)
            cond = cond_windows[w : w + per_batch].repeat_interleave(n_samples, dim=0)
            out[rows] = solve(predict, noise[rows], alpha, sigma, steps=steps, sampler=sampler)
        return out.view(b, n_samples, horizon)


class EnsembleForecaster(nn.Module):
    """`members` diffusion forecasters of one architecture from different initial weights, trained side
    by side on the same batches (the loss is the sum of theirs, so each member's gradient is its own)
    and sampled as one mixture: each window's paths are split among the members, so N paths cost
    about what one model's N paths cost (one context encoding per member and window more)."""

    def __init__(self, *, members: int, **kwargs):
        super().__init__()
        if members < 2:
            raise ValueError(f"an ensemble needs at least 2 members, not {members}")
        self.members = nn.ModuleList(DiffusionForecaster(**kwargs) for _ in range(members))
        self.config = {**self.members[0].config, "members": members}

    def loss(self, context: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(member.loss(context, target) for member in self.members)

    @torch.inference_mode()
    def sample(self, context: torch.Tensor, n_samples: int, **kwargs) -> torch.Tensor:
        """[batch, n_samples, horizon]: member i solves n_samples // members paths (the first
        n_samples % members members one more), from the same generator in turn."""
        k = len(self.members)
        shares = [n_samples // k + (i < n_samples % k) for i in range(k)]
        return torch.cat([m.sample(context, share, **kwargs) for m, share in zip(self.members, shares) if share], dim=1)


def build_forecaster(*, members: int = 1, **kwargs) -> nn.Module:
    """The forecaster a config describes: one DiffusionForecaster, or an ensemble of `members` of them
    (configs saved before ensembles have no `members` and build one model, as they did)."""
    return DiffusionForecaster(**kwargs) if members == 1 else EnsembleForecaster(members=members, **kwargs)


def member_models(model: nn.Module) -> list[nn.Module]:
    """The separately trained networks of a forecaster: its members, or itself."""
    return list(model.members) if isinstance(model, EnsembleForecaster) else [model]


@torch.inference_mode()
def sample_forecasts(
    model: nn.Module,
    x: np.ndarray,
    *,
    n_samples: int = 100,
    steps: int = DEFAULT_STEPS,
    sampler: str = DEFAULT_SAMPLER,
    seed: int = 0,
    batch: int = 256,
    y_scale: float | np.ndarray = 1.0,
    drift: float = 1.0,
    levels: np.ndarray | None = None,
    device: str = "cpu",
    precision: str | None = None,
    generator: torch.Generator | None = None,
    on_batch: Callable[[int, int], object] | None = None,
) -> np.ndarray:
    """[m, n_samples, horizon] cumulative log-return paths of a forecaster (one network or an ensemble),
    batched; the same seed gives the same paths (or pass a CPU `generator` to draw the noise from),
    multiplied by `y_scale` (one number, or one per window), each window's median kept at `drift` times
    itself (`shrink_drift`), then read at the quantile levels of `levels` (`recalibrate`). Scoring and forecast sets both turn paths into returns here. `steps` is the
    number of model evaluations per path of `sampler`, `precision` the networks' (model.sample;
    default: inference_precision of the device). `on_batch(done, total)` is called after each batch of
    windows."""
    model.eval().to(device)
    precision = precision or inference_precision(device)
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, len(x), batch):
        ctx = torch.from_numpy(np.ascontiguousarray(x[i : i + batch])).to(device)
        out.append(
            model.sample(ctx, n_samples, steps=steps, sampler=sampler, generator=gen, precision=precision)
            .float()
            .cpu()
            .numpy()
        )
        if on_batch is not None:
            on_batch(min(i + batch, len(x)), len(x))
    if not out:
        return np.zeros((0, n_samples, model.config["horizon"]))
    scale = np.asarray(y_scale, dtype=np.float64)
    paths = shrink_drift(np.concatenate(out, axis=0), drift) * (scale[:, None, None] if scale.ndim else scale)
    return recalibrate(paths, levels)
