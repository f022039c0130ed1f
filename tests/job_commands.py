"""Shared checks of the `--queue / --foreground` convention of the commands that start a job run."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def assert_queued(monkeypatch, capture, capsys, model, command: str, *args, page: str, api: str):
    """`command --queue` stores one queued run, hands it to the queue once its transaction commits, and
    prints its id, its page and its API URL - without running it."""
    sent = []
    monkeypatch.setattr("forexgpt_site.jobs.queue.send", lambda m, pk: sent.append((m, pk)) or "task-1")
    capsys.readouterr()
    with capture(execute=True) as callbacks:
        call_command(command, *args, "--queue", "--json")
    run = model.objects.get()
    out = json.loads(capsys.readouterr().out)
    assert len(callbacks) == 1 and sent == [(model, run.pk)]
    assert (run.status, run.task_id, run.started_at) == ("queued", "task-1", None)
    assert out == {"id": run.pk, "status": "queued", "page": page.format(pk=run.pk), "api": api.format(pk=run.pk)}
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command(command, *args, "--queue", "--foreground")
    return run
