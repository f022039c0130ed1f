"""The training run page: the optimizations appear when the worker decides them, without a reload,
and the loss chart counts epochs from 0 as the page's "Epoch / step" does."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_decisions_appear_live_and_epochs_count_from_zero(logged_in_page, live_server):
    from training.models import TrainingRun
    from training.request import TrainingRequest

    run = TrainingRun.of_request(
        TrainingRequest(symbol="EURUSD", timeframe="1h", epochs=1),
        status="running",
        history=[{"epoch": 0, "step": 12, "train_loss": 0.9, "val_loss": 1.0}],
    )
    run.save()
    page = logged_in_page
    page.goto(f"{live_server.url}/training/runs/{run.pk}/")
    expect(page.locator("#decisions-pending")).to_contain_text("Being decided on the worker")
    expect(page.locator("#decisions-table")).to_be_hidden()
    TrainingRun.objects.filter(pk=run.pk).update(
        step=13, decisions=[{"name": "precision", "value": "32-true", "reason": "no CUDA device"}]
    )
    expect(page.locator("#decisions-table")).to_be_visible(timeout=15_000)
    expect(page.locator("#decisions-table")).to_contain_text("no CUDA device")
    assert page.evaluate("Array.from(document.getElementById('loss-chart').data[0].x)") == [0]
