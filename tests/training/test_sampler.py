"""The samplers of DiffusionForecaster.sample on the CPU, in seconds: convergence to the many-step
ODE solution, seeds, what `steps` counts, DDIM unchanged, refusals."""

import math

import numpy as np
import pytest
import torch

from training.engine import DiffusionForecaster
from training.engine.model import sample_forecasts
from training.engine.sampling import DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLERS, logsnr_schedule


@pytest.fixture(scope="module")
def trained():
    """A tiny forecaster fitted for a second to paths that depend on the context's last bar, so its
    probability-flow ODE is smooth like a trained model's (random weights make it rough in t)."""
    torch.manual_seed(0)
    ctx = torch.randn(512, 16, 3)
    y = ctx[:, -1, :1] * torch.linspace(0.5, 2.0, 6) + 0.3 * torch.randn(512, 6)
    model = DiffusionForecaster(channels=3, patch_len=16, horizon=6, dim=32, layers=1, heads=2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        idx = torch.randint(0, 512, (64,))
        loss = model.loss(ctx[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), ctx[:4]


def _paths(model, ctx, sampler, steps, seed=1, **kw):
    return model.sample(ctx, 16, steps=steps, sampler=sampler, generator=torch.Generator().manual_seed(seed), **kw)


def legacy_ddim(model, context, n_samples, *, steps, generator):
    """DiffusionForecaster.sample as it was before the fast samplers (per-row time embedding, one batch)."""
    b = context.shape[0]
    cond = model.encoder(context).repeat_interleave(n_samples, dim=0)
    x = torch.randn(b * n_samples, model.config["horizon"], generator=generator)
    schedule = torch.linspace(model.timesteps - 1, 0, steps).round().long().tolist()
    for i, t in enumerate(schedule):
        v = model._v(x, torch.full((x.shape[0],), t, dtype=torch.long), cond)
        x0 = model.alpha[t] * x - model.sigma[t] * v
        eps = model.sigma[t] * x + model.alpha[t] * v
        x = model.alpha[schedule[i + 1]] * x0 + model.sigma[schedule[i + 1]] * eps if i + 1 < len(schedule) else x0
    return x.view(b, n_samples, -1)


@pytest.mark.parametrize("sampler", ["dpmpp2m", "unipc"])
def test_paths_converge_to_the_many_step_ode_solution(trained, sampler):
    model, ctx = trained
    reference = _paths(model, ctx, "ddim", 1000)
    errors = {k: (_paths(model, ctx, sampler, k) - reference).abs().mean().item() for k in (10, 20, 50)}
    assert errors[10] > errors[20] > errors[50]
    assert errors[50] < 0.01 * reference.abs().mean().item()
    # second order pays: at every step count nearer the ODE solution than first-order DDIM
    for k, error in errors.items():
        assert error < (_paths(model, ctx, "ddim", k) - reference).abs().mean().item()


def test_the_same_seed_gives_the_same_paths_whatever_the_batching(trained):
    model, ctx = trained
    a = _paths(model, ctx, DEFAULT_SAMPLER, DEFAULT_STEPS, seed=7)
    assert torch.equal(a, _paths(model, ctx, DEFAULT_SAMPLER, DEFAULT_STEPS, seed=7))
    assert not torch.allclose(a, _paths(model, ctx, DEFAULT_SAMPLER, DEFAULT_STEPS, seed=8))
    one_window_at_a_time = _paths(model, ctx, DEFAULT_SAMPLER, DEFAULT_STEPS, seed=7, paths_per_batch=16)
    assert torch.allclose(a, one_window_at_a_time, rtol=0, atol=1e-6)


def test_ddim_is_still_selectable_and_unchanged(trained):
    model, ctx = trained
    with torch.no_grad():
        before = legacy_ddim(model, ctx, 16, steps=20, generator=torch.Generator().manual_seed(3))
    now = _paths(model, ctx, "ddim", 20, seed=3)
    assert torch.allclose(now, before, rtol=0, atol=1e-5)
    assert not torch.allclose(now, _paths(model, ctx, "dpmpp2m", 20, seed=3), rtol=0, atol=1e-3)


def test_the_defaults_are_the_fast_sampler(trained):
    from forecasts.request import ForecastRequest  # keeps its own copy: the web process does not import torch

    model, ctx = trained
    assert (DEFAULT_SAMPLER, DEFAULT_STEPS) == ("dpmpp2m", 6) and ForecastRequest.steps == DEFAULT_STEPS
    default = model.sample(ctx, 16, generator=torch.Generator().manual_seed(2))
    assert torch.equal(default, _paths(model, ctx, "dpmpp2m", 6, seed=2))
    via_trainer = sample_forecasts(model, ctx.numpy(), n_samples=16, seed=2)
    assert np.array_equal(via_trainer, default.numpy())


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_steps_counts_model_evaluations_and_the_rest_runs_once(trained, sampler):
    model, ctx = trained
    calls = {"denoiser": 0, "time": 0, "encoder": 0}
    hooks = [
        getattr(model, name).register_forward_hook(lambda *_, name=name: calls.__setitem__(name, calls[name] + 1))
        for name in calls
    ]
    try:
        _paths(model, ctx, sampler, 7, paths_per_batch=32)  # 2 windows of 16 paths per batch: 2 batches
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == {"denoiser": 2 * 7, "time": 7, "encoder": 1}


def test_bf16_runs_the_networks_in_bf16_and_keeps_the_solver_in_float32(trained):
    model, ctx = trained
    dtypes = []
    hook = model.denoiser.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    try:
        half = _paths(model, ctx, DEFAULT_SAMPLER, DEFAULT_STEPS, seed=4, precision="bf16")
    finally:
        hook.remove()
    full = _paths(model, ctx, DEFAULT_SAMPLER, DEFAULT_STEPS, seed=4)
    assert set(dtypes) == {torch.bfloat16} and half.dtype == torch.float32
    # bf16 changes the paths by its rounding, not more: well under the paths' own spread
    assert not torch.equal(half, full)
    assert (half - full).abs().mean() < 0.05 * full.std()
    with pytest.raises(ValueError, match="unknown precision 'fp16'; choose one of fp32, bf16"):
        _paths(model, ctx, DEFAULT_SAMPLER, DEFAULT_STEPS, precision="fp16")


def test_every_step_count_up_to_the_schedule_length_solves(trained):
    model, ctx = trained
    lam = [math.log(a / s) for a, s in zip(model.alpha.tolist(), model.sigma.tolist())]
    for steps in (1, 2, 6, 100, 998, 999, 1000):
        schedule = logsnr_schedule(lam, steps)
        assert len(schedule) == steps and schedule[0] == 999 and schedule[-1] >= 0
        assert all(a > b for a, b in zip(schedule, schedule[1:]))
        if steps <= 998:  # the clamped top of the cosine schedule has 3 steps of one log-SNR
            assert all(lam[a] < lam[b] for a, b in zip(schedule, schedule[1:]))
    for sampler in ("dpmpp2m", "unipc"):
        out = model.sample(ctx[:1], 2, steps=1000, sampler=sampler, generator=torch.Generator().manual_seed(0))
        assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampler": "euler"}, "unknown sampler 'euler'; choose one of dpmpp2m, unipc, ddim"),
        ({"sampler": "DDIM"}, "unknown sampler 'DDIM'; choose one of dpmpp2m, unipc, ddim"),
        ({"steps": 0}, "steps must be a whole number from 1 to 1000 (model evaluations per path), not 0"),
        (
            {"steps": 1001, "sampler": "ddim"},
            "steps must be a whole number from 1 to 1000 (model evaluations per path), not 1001",
        ),
        ({"steps": 2.5}, "steps must be a whole number from 1 to 1000 (model evaluations per path), not 2.5"),
    ],
)
def test_bad_sampler_or_steps_are_refused(trained, kwargs, message):
    model, ctx = trained
    with pytest.raises(ValueError) as err:
        model.sample(ctx, 4, **kwargs)
    assert str(err.value) == message


def test_end_of_training_scoring_uses_the_fast_sampler_and_says_so(fixture_path):
    import pandas as pd

    from training.engine.trainer import evaluate_quality, prepare_data

    data = prepare_data(
        pd.read_csv(fixture_path("eurusd_h1.csv")).rename(columns={"timestamp": "ts"}), patch_len=32, horizon=12
    )
    torch.manual_seed(0)
    model = DiffusionForecaster(channels=len(data.channels), patch_len=32, horizon=12, dim=16, layers=1, heads=2)
    fast = evaluate_quality(model, data, n_samples=8, max_windows=6)
    ddim = evaluate_quality(model, data, n_samples=8, max_windows=6, sampler="ddim", steps=20)
    assert (fast["sampler"], fast["steps"], ddim["sampler"], ddim["steps"]) == ("dpmpp2m", 6, "ddim", 20)
    assert fast["model"]["crps"] != ddim["model"]["crps"] and fast["ewma_gaussian"] == ddim["ewma_gaussian"]


def test_end_of_training_scoring_reports_its_progress_batch_by_batch(fixture_path):
    import pandas as pd

    from training.engine.model import sample_forecasts
    from training.engine.trainer import evaluate_quality, prepare_data

    data = prepare_data(
        pd.read_csv(fixture_path("eurusd_h1.csv")).rename(columns={"timestamp": "ts"}), patch_len=32, horizon=12
    )
    torch.manual_seed(0)
    model = DiffusionForecaster(channels=len(data.channels), patch_len=32, horizon=12, dim=16, layers=1, heads=2)
    seen = []
    evaluate_quality(model, data, n_samples=4, max_windows=6, on_batch=lambda done, total: seen.append((done, total)))
    assert seen == [(6, 6)]
    seen.clear()
    sample_forecasts(
        model, data.x["test"][:10], n_samples=4, batch=4, on_batch=lambda done, total: seen.append((done, total))
    )
    assert seen == [(4, 10), (8, 10), (10, 10)]


def test_forecasts_run_in_fp32_on_the_cpu():
    from training.engine.model import inference_precision

    assert inference_precision("cpu") == "fp32"
    # on CUDA it is bf16 where the GPU supports it: bench/gpu_forecast.sh measured the quality kept


def test_the_ddim_schedule_is_torchs_linspace_step_for_step():
    from training.engine.sampling import ddim_schedule

    for timesteps in (1000, 100, 7):
        for steps in range(1, timesteps + 1):
            assert ddim_schedule(timesteps, steps) == torch.linspace(timesteps - 1, 0, steps).round().long().tolist()
