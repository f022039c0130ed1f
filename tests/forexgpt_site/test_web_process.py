"""The web process stays light: serving every page and API route loads no torch (seconds to import
and hundreds of MB per web worker; only training and forecast children and workers need it), nor
arch and scipy.stats (together seconds more at the start of every Django process: the web, each
worker and child, every management command; they load when a search is judged or a GARCH is fit)."""

import subprocess
import sys

import pytest
from django.conf import settings


@pytest.mark.slow
def test_loading_every_url_view_form_and_serializer_imports_no_torch_arch_or_scipy_stats():
    code = """
import django, sys
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # every app's urls, views, forms and serializers
import backtesting_app.api, conformal.api, forecasts.api, marketdata.api, registry.api, training.api
import training.services, forecasts.services, forecasts.request, training.forms
from training.engine import chronological_split, DEFAULT_SAMPLER
print([name for name in ("torch", "arch", "scipy.stats") if name in sys.modules])
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "forexgpt_site.settings"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
