"""Forecaster engine on the CPU, in seconds: learning, causality, normalization, the optimization stack."""

import sys
import types

import numpy as np
import pandas as pd
import pytest
import torch

from training.engine import (
    DiffusionForecaster,
    HardwareInfo,
    UserChoices,
    build_config,
    crps_samples,
    detect_hardware,
    make_features,
    summarize,
    windows,
)
from training.engine.hardware import GpuInfo
from training.engine.model import sample_forecasts
from training.engine.trainer import prepare_data


@pytest.fixture
def candles(fixture_path):
    return pd.read_csv(fixture_path("eurusd_h1.csv")).rename(columns={"timestamp": "ts"})


@pytest.mark.slow
@pytest.mark.parametrize("denoiser", ["transformer", "unet"])
def test_loss_falls_on_a_learnable_signal(denoiser):
    torch.manual_seed(0)
    ctx = torch.randn(512, 16, 3)
    y = ctx[:, -1, :1] * torch.linspace(0.5, 2.0, 6)  # the path is a function of the last bar
    model = DiffusionForecaster(channels=3, patch_len=16, horizon=6, dim=32, layers=1, heads=2, denoiser=denoiser)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        idx = torch.randint(0, 512, (64,))
        loss = model.loss(ctx[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    samples = model.sample(ctx[:8], 64, steps=10, generator=torch.Generator().manual_seed(1))
    err = (samples.median(dim=1).values - y[:8]).abs().mean().item()
    assert err < 0.5 * y[:8].abs().mean().item()  # the median path tracks the signal


def test_forecast_at_t_ignores_bars_after_t(candles):
    t = 250
    changed = candles.copy()
    changed.loc[t + 1 :, ["open", "high", "low", "close"]] *= 1.05
    changed.loc[t + 1 :, "volume"] *= 3
    a, _ = make_features(candles)
    b, _ = make_features(changed)
    assert np.array_equal(a[: t + 1], b[: t + 1])
    model = DiffusionForecaster(channels=a.shape[1], patch_len=32, horizon=12, dim=16, layers=1, heads=2)
    ends = np.arange(200, t + 1)
    fa = sample_forecasts(model, windows(a, ends, 32), n_samples=20, steps=5, seed=3)
    fb = sample_forecasts(model, windows(b, ends, 32), n_samples=20, steps=5, seed=3)
    assert np.array_equal(fa, fb)


def test_volatility_channels_and_a_models_own_channel_order(candles):
    """log_sigma is the slow EWMA's log spread at t, ret_z the close's return in units of the spread at
    t - 1; a model trained before these channels (or in another order) gets exactly its own columns."""
    from training.engine.features import TARGET_SCALE_LAMBDA, VOL_CHANNELS, ewma_variance

    features, names = make_features(candles)
    assert names[-2:] == list(VOL_CHANNELS)
    close = candles["close"].to_numpy(float)
    sigma = np.sqrt(ewma_variance(close, TARGET_SCALE_LAMBDA))
    t = 300
    assert features[t, names.index("log_sigma")] == pytest.approx(np.log(sigma[t]), rel=1e-5)
    assert features[t, names.index("ret_z")] == pytest.approx(np.log(close[t] / close[t - 1]) / sigma[t - 1], rel=1e-4)
    older = [n for n in names if n not in VOL_CHANNELS][::-1]
    picked, picked_names = make_features(candles, older)
    assert picked_names == older and np.array_equal(picked, features[:, [names.index(n) for n in older]])
    with pytest.raises(ValueError, match="volume_z .*no volume"):
        make_features(candles.assign(volume=0), names)


def test_the_range_channel_is_read_only_by_name_and_follows_the_bars_range(candles):
    """log_sigma_range is not among the default's channels; asked for, it is the slow EWMA of each bar's
    Garman-Klass variance plus its squared opening gap, from bars <= t only."""
    from training.engine.features import OPTIONAL_CHANNELS, TARGET_SCALE_LAMBDA

    _, default = make_features(candles)
    assert not set(OPTIONAL_CHANNELS) & set(default)
    names = [*default, "log_sigma_range"]
    features, got = make_features(candles, names)
    assert got == names
    o, h, l, c = (candles[k].to_numpy(float) for k in ("open", "high", "low", "close"))
    prev = np.r_[c[0], c[:-1]]
    per_bar = 0.5 * np.log(h / l) ** 2 - (2 * np.log(2) - 1) * np.log(c / o) ** 2 + np.log(o / prev) ** 2
    level = pd.Series(per_bar).ewm(alpha=1 - TARGET_SCALE_LAMBDA, adjust=False).mean().to_numpy()
    t = 300
    assert features[t, -1] == pytest.approx(0.5 * np.log(level[t]), rel=1e-5)
    wider = candles.copy()
    wider.loc[t + 1 :, "high"] *= 1.01  # wider ranges after t: the channel rises there, not before
    changed, _ = make_features(wider, names)
    assert np.array_equal(changed[: t + 1, -1], features[: t + 1, -1])
    assert changed[t + 50, -1] > features[t + 50, -1]


def test_the_daily_context_reads_the_last_5_and_20_days_from_past_bars_only(candles):
    """The daily channels are read only by name; trend_5d is the close's return over the last 120 bars in
    units of the slow spread times sqrt(120), range_20d the 480 bars' high-low range likewise, vol_20d the
    480 bars' mean squared return against the slow variance - and none of them moves when later bars do."""
    from training.engine.features import DAILY_CHANNELS, TARGET_SCALE_LAMBDA, ewma_variance

    _, default = make_features(candles)
    assert not set(DAILY_CHANNELS) & set(default)
    names = [*default, *DAILY_CHANNELS]
    features, got = make_features(candles, names)
    assert got == names
    col = {n: features[:, names.index(n)] for n in DAILY_CHANNELS}
    c, h, l = (candles[k].to_numpy(float) for k in ("close", "high", "low"))
    var = ewma_variance(c, TARGET_SCALE_LAMBDA)
    t = 300  # the fixture's 399 bars: 20 days (480 bars) are not there yet, so those read all bars so far
    assert col["trend_5d"][t] == pytest.approx(np.log(c[t] / c[t - 120]) / np.sqrt(var[t] * 120), rel=1e-4)
    assert col["trend_20d"][t] == pytest.approx(np.log(c[t] / c[0]) / np.sqrt(var[t] * 480), rel=1e-4)
    span = np.log(h[: t + 1].max() / l[: t + 1].min())
    assert col["range_20d"][t] == pytest.approx(span / np.sqrt(var[t] * 480), rel=1e-4)
    ret2 = np.diff(np.log(c[: t + 1])) ** 2  # t returns; the first bar has none (0)
    assert col["vol_20d"][t] == pytest.approx(0.5 * np.log(ret2.sum() / (t + 1) / var[t]), rel=1e-4)
    assert (col["range_5d"] >= 0).all() and np.isfinite(features).all()
    moved = candles.copy()
    moved.loc[t + 1 :, ["open", "high", "low", "close"]] *= 1.05
    changed, _ = make_features(moved, names)
    assert np.array_equal(changed[: t + 1], features[: t + 1])
    assert not np.allclose(changed[t + 60, names.index("trend_5d")], features[t + 60, names.index("trend_5d")])


def test_normalization_uses_the_training_part_only(candles):
    data = prepare_data(candles, patch_len=32, horizon=12)
    last_train = data.ends["train"].max()
    features, _ = make_features(candles)
    assert np.allclose(data.normalizer.mu, features[: last_train + 1].mean(axis=0), atol=1e-6)
    later = candles.copy()
    later.loc[last_train + 1 :, ["open", "high", "low", "close"]] *= 1.3
    assert np.array_equal(prepare_data(later, patch_len=32, horizon=12).normalizer.mu, data.normalizer.mu)
    # the parts are in time order, with a gap so no training target reaches a validation input
    assert data.ends["train"].max() + data.horizon < data.ends["val"].min() - data.patch_len + 1
    assert data.ends["val"].max() + data.horizon < data.ends["test"].min() - data.patch_len + 1


def test_quantiles_confidence_and_crps():
    rng = np.random.default_rng(0)
    samples = rng.normal(0.001, 0.01, size=(3, 400, 4))
    s = summarize(samples)
    assert (s["q05"] <= s["q25"]).all() and (s["q25"] <= s["q50"]).all() and (s["q50"] <= s["q95"]).all()
    final = samples[:, :, -1]
    assert np.allclose(s["confidence"], (np.sign(final) == np.sign(np.median(final, axis=1))[:, None]).mean(axis=1))
    # CRPS of a standard normal at y = 0 is (sqrt(2) - 1) / sqrt(pi) = 0.2337
    big = rng.standard_normal((1, 20000))
    assert crps_samples(big, np.array([0.0]))[0] == pytest.approx(0.2337, abs=0.01)


def _gpu_box(cc=(9, 0), libs=True):
    ok = {"importable": True, "usable": True, "reason": "available"}
    return HardwareInfo(
        cuda_available=True,
        gpus=[GpuInfo(0, "H100", 80.0, cc), GpuInfo(1, "H100", 80.0, cc)],
        cuda_version="12.4",
        cpu_cores=32,
        libraries={
            k: ok if libs else {"importable": False, "usable": False, "reason": f"{k} not importable"}
            for k in ("flash_attn", "dali", "apex")
        },
    )


def _decided(cfg):
    return {d["name"]: (d["value"], d["reason"]) for d in cfg.decisions}


def test_gpu_with_every_library_turns_everything_on():
    cfg = build_config(_gpu_box())
    assert (cfg.precision, cfg.compile, cfg.optimizer, cfg.flash_attention, cfg.loader) == (
        "bf16-mixed",
        True,
        "apex_fused_adam",
        True,
        "resident",
    )
    assert build_config(_gpu_box(), UserChoices(resident_data=False)).loader == "dali"  # the next best when turned off
    assert (cfg.devices, cfg.strategy, cfg.cudnn_benchmark, cfg.pin_memory) == (2, "ddp", True, True)
    assert "compute capability 9.0 >= 8.0" in _decided(cfg)["precision"][1]


def test_each_absent_library_falls_back_and_says_why():
    cfg = build_config(_gpu_box(cc=(7, 0), libs=False), denoiser="unet")
    d = _decided(cfg)
    assert cfg.precision == "16-mixed" and "7.0 < 8.0" in d["precision"][1]
    assert cfg.optimizer == "adamw_fused" and "apex not importable" in d["optimizer"][1]
    assert cfg.flash_attention is False and "scaled_dot_product_attention" in d["flash_attention"][1]
    assert cfg.loader == "resident"
    d = _decided(build_config(_gpu_box(cc=(7, 0), libs=False), UserChoices(resident_data=False), denoiser="unet"))
    assert (
        d["loader"][0] == "dataloader" and "dali not importable" in d["loader"][1] and "pinned memory" in d["loader"][1]
    )
    assert cfg.channels_last is False and "1-D convolutions" in d["channels_last"][1]


def test_channels_last_cannot_change_the_1d_unet():
    """Why channels-last is never chosen: torch converts 4-D tensors only, so the U-Net's 3-D
    Conv1d weights keep their layout (if torch ever changes that, this test says so)."""
    from training.engine import DiffusionForecaster

    model = DiffusionForecaster(channels=3, patch_len=16, horizon=12, dim=16, layers=1, heads=2, denoiser="unet")
    before = {n: p.stride() for n, p in model.named_parameters()}
    model = model.to(memory_format=torch.channels_last)
    assert {n: p.stride() for n, p in model.named_parameters()} == before
    cfg = build_config(_gpu_box(), UserChoices(channels_last=True), denoiser="unet")
    assert cfg.channels_last is False and _decided(cfg)["channels_last"][1].startswith("asked for, but off")


def test_cpu_fallbacks_on_this_machine():
    cfg = build_config(detect_hardware())
    d = _decided(cfg)
    assert (cfg.accelerator, cfg.precision, cfg.compile, cfg.optimizer) == ("cpu", "32-true", False, "adamw")
    assert d["precision"][1] == "bf16 off: no CUDA device (fp32 on the CPU unless asked)"


def test_an_importable_library_without_cuda_is_not_usable(monkeypatch):
    monkeypatch.setitem(sys.modules, "flash_attn", types.ModuleType("flash_attn"))
    hw = detect_hardware()
    assert hw.libraries["flash_attn"] == {
        "importable": True,
        "usable": False,
        "reason": "flash-attn imports but there is no CUDA device",
    }
    assert build_config(hw, UserChoices(flash_attention=True)).flash_attention is False


def test_user_choices_beat_auto_detection():
    cfg = build_config(
        _gpu_box(),
        UserChoices(
            precision="32-true",
            compile=False,
            fused_optimizer=False,
            flash_attention=False,
            num_gpus=1,
            gradient_accumulation=4,
            dali=False,
            resident_data=False,
        ),
    )
    d = _decided(cfg)
    assert (cfg.precision, cfg.compile, cfg.optimizer, cfg.flash_attention, cfg.devices, cfg.strategy) == (
        "32-true",
        False,
        "adamw",
        False,
        1,
        "auto",
    )
    assert d["precision"][1] == "user choice" and cfg.gradient_accumulation == 4 and cfg.loader == "dataloader"
    assert build_config(detect_hardware(), UserChoices(precision="bf16-mixed", compile=True)).precision == "bf16-mixed"
    with pytest.raises(ValueError, match="asked for 4 GPU\\(s\\) but 0 CUDA device\\(s\\) are available here"):
        build_config(detect_hardware(), UserChoices(num_gpus=4))


def test_lightning_fast_dev_run_trains_one_batch(candles):
    from training.engine.trainer import train

    data = prepare_data(candles, patch_len=32, horizon=12)
    module, trainer = train(
        data, build_config(detect_hardware()), epochs=1, batch_size=16, fast_dev_run=True, dim=16, layers=1, heads=2
    )
    assert trainer.global_step == 1


def test_dali_batches_serve_every_epoch():
    """Lightning iterates a loader once per epoch: DALI's self-resetting iterator is wrapped so the
    second epoch gets batches too (a generator would be exhausted after the first)."""
    from training.engine._dali import DaliBatches

    class SelfResetting:  # DALIGenericIterator with auto_reset=True: every pass yields the epoch again
        def __iter__(self):
            return iter([[{"context": torch.zeros(2, 3), "target": torch.ones(2)}]] * 3)

    batches = DaliBatches(SelfResetting(), batches=3)
    assert len(batches) == 3
    assert [len(list(batches)) for _ in range(2)] == [3, 3]
    ctx, tgt = next(iter(batches))
    assert ctx.shape == (2, 3) and tgt.shape == (2,)


def test_fused_adamw_under_mixed_precision_still_clips_gradients(candles):
    """The first GPU run failed here: Lightning refuses to clip gradients for an optimizer that
    unscales inside step() (fused AdamW) under bf16-mixed. Torch's fused AdamW runs on the CPU too,
    so the same combination is trained here, and the clipped norm is checked."""
    from training.engine.trainer import LitDiffusion, train

    cfg = build_config(detect_hardware(), UserChoices(precision="bf16-mixed"))
    cfg.optimizer = "adamw_fused"
    norms = []
    original = LitDiffusion.configure_gradient_clipping

    def spy(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        original(self, optimizer, gradient_clip_val, gradient_clip_algorithm)
        norms.append(
            float(
                torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in self.parameters() if p.grad is not None]))
            )
        )

    LitDiffusion.configure_gradient_clipping = spy
    try:
        data = prepare_data(candles, patch_len=32, horizon=12)
        module, trainer = train(data, cfg, epochs=1, batch_size=16, fast_dev_run=True, dim=16, layers=1, heads=2)
    finally:
        LitDiffusion.configure_gradient_clipping = original
    assert trainer.global_step == 1 and module.optimizers().optimizer.defaults["fused"] is True
    assert norms and norms[0] <= 1.0 + 1e-4


def test_resident_batches_shuffle_each_epoch_cover_all_and_shard_by_rank(monkeypatch):
    from training.engine.trainer import ResidentBatches

    x = np.arange(10, dtype=np.float32)[:, None, None].repeat(3, axis=1)
    y = np.arange(10, dtype=np.float32)[:, None]
    loader = ResidentBatches(x, y, 4, shuffle=True, seed=1, device="cpu")
    epochs = [torch.cat([b[1][:, 0] for b in loader]).tolist() for _ in range(2)]
    assert len(loader) == 3 and all(sorted(e) == list(range(10)) for e in epochs) and epochs[0] != epochs[1]
    assert len(ResidentBatches(x, y, 4, shuffle=True, device="cpu", drop_last=True)) == 2
    seen = []
    for rank in (0, 1):  # two DDP ranks: disjoint halves of the same epoch order
        shard = ResidentBatches(x, y, 4, shuffle=True, seed=1, device="cpu")
        monkeypatch.setattr(shard, "_shard", lambda rank=rank: (rank, 2))
        seen.append(torch.cat([b[1][:, 0] for b in shard]).tolist())
    assert len(seen[0]) == len(seen[1]) == 5 and sorted(seen[0] + seen[1]) == list(range(10))
    ordered = ResidentBatches(x, y, 4, shuffle=False, device="cpu")
    assert torch.cat([b[1][:, 0] for b in ordered]).tolist() == list(range(10))


def test_lightning_trains_from_resident_batches(candles):
    from training.engine.trainer import train

    cfg = build_config(detect_hardware())
    cfg.loader = "resident"  # chosen on GPUs; the same code runs with the windows on the CPU
    data = prepare_data(candles, patch_len=32, horizon=12)
    module, trainer = train(data, cfg, epochs=2, batch_size=16, dim=16, layers=1, heads=2, limit_train_batches=3)
    assert trainer.global_step == 6 and trainer.current_epoch == 2


def test_an_ensemble_trains_each_member_as_if_alone_and_samples_one_mixture():
    """Members start from different weights; the summed loss gives each member its own loss's gradient;
    clipping is per member; N paths are split among the members; a saved config and state rebuild it,
    and a config without `members` (saved before ensembles) builds one model."""
    from training.engine import EnsembleForecaster, build_forecaster
    from training.engine.trainer import LitDiffusion

    kw = {"channels": 3, "patch_len": 16, "horizon": 6, "dim": 16, "layers": 1, "heads": 2}
    assert type(build_forecaster(**kw)) is DiffusionForecaster
    torch.manual_seed(0)
    model = build_forecaster(**kw, members=3)
    assert isinstance(model, EnsembleForecaster) and model.config["members"] == 3
    a, b = (dict(m.named_parameters())["encoder.inp.weight"] for m in model.members[:2])
    assert not torch.equal(a, b)

    ctx, y = torch.randn(32, 16, 3), torch.randn(32, 6)
    torch.manual_seed(5)
    model.loss(ctx, y).backward()
    joint = [p.grad.clone() for p in model.members[1].parameters()]
    model.zero_grad()
    torch.manual_seed(5)
    model.members[0].loss(ctx, y)  # the same random draws as in the summed loss, member by member
    model.members[1].loss(ctx, y).backward()
    assert all(torch.allclose(g, p.grad) for g, p in zip(joint, model.members[1].parameters()))

    import lightning as L

    lit = LitDiffusion({**kw, "members": 3})
    lit.trainer = L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    for p in lit.parameters():
        p.grad = torch.full_like(p, 10.0)
    lit.configure_gradient_clipping(None, gradient_clip_val=1.0)
    norms = [
        float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in m.parameters()]))) for m in lit.model.members
    ]
    assert norms == pytest.approx([1.0] * 3, rel=1e-4)

    paths = model.sample(ctx[:4], 10, steps=3, generator=torch.Generator().manual_seed(1))
    assert paths.shape == (4, 10, 6)
    first = model.members[0].sample(ctx[:4], 4, steps=3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(paths[:, :4], first)  # the first member's share (10 = 4 + 3 + 3), from the same noise
    again = build_forecaster(**model.config)
    again.load_state_dict(model.state_dict())
    assert torch.equal(again.sample(ctx[:4], 10, steps=3, generator=torch.Generator().manual_seed(1)), paths)
    with pytest.raises(ValueError, match="at least 2 members"):
        EnsembleForecaster(members=1, **kw)


@pytest.mark.parametrize("patch_len, horizon", [(64, 12), (200, 12), (8, 1), (32, 48)])
def test_too_few_bars_for_a_split_names_the_least_that_is_enough(patch_len, horizon):
    from training.engine.features import chronological_split

    with pytest.raises(ValueError, match=r"at least ([\d,]+) are needed") as info:
        chronological_split(patch_len + horizon, patch_len, horizon)
    least = int(info.value.args[0].rsplit("at least ", 1)[1].split(" ")[0].replace(",", ""))
    split = chronological_split(least, patch_len, horizon)  # exactly enough
    assert len(split.train) >= 20 and len(split.val) >= 5 and len(split.test) >= 5
    with pytest.raises(ValueError, match=f"{least - 1:,} bars are too few"):
        chronological_split(least - 1, patch_len, horizon)
