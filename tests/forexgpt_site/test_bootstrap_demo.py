"""`make run`'s setup step: the demo series and the two demo users, the same on every rerun."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from forexgpt_site import env
from marketdata.models import Candle


@pytest.mark.django_db
def test_bootstrap_demo_loads_the_series_and_users_once_and_keeps_their_passwords(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(env, "DATA_DIR", tmp_path)
    call_command("bootstrap_demo", "--json")
    first = json.loads(capsys.readouterr().out)
    call_command("bootstrap_demo", "--json")
    again = json.loads(capsys.readouterr().out)
    assert (first["demo_data"]["inserted"], again["demo_data"]["inserted"], again["demo_data"]["duplicates"]) == (
        5000,
        0,
        5000,
    )
    assert Candle.objects.filter(symbol="EURUSD", timeframe="1h").count() == 5000  # published: visible to readers
    assert first["users"] == again["users"]
    demo, admin = (get_user_model().objects.get(username=name) for name in ("demo", "admin"))
    assert demo.check_password(first["users"]["demo"]) and not demo.is_staff
    assert admin.check_password(first["users"]["admin"]) and admin.is_staff
    assert (tmp_path / "admin-password").stat().st_mode & 0o777 == 0o600
