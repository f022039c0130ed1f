"""The job-run contract every long job relies on."""

import pytest
from django.core.files.base import ContentFile

from forexgpt_site.errors import DomainError
from forexgpt_site.jobs import JobContext, job_cancel, job_execute
from marketdata.models import CandleImport

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(user):
    job = CandleImport(owner=user, original_name="x.csv", symbol="EURUSD", timeframe="1h")
    job.file.save("x.csv", ContentFile(b""), save=False)
    job.save()
    return job


def test_a_run_delivered_twice_does_its_work_once(run):
    calls = []

    def work(r, ctx):
        calls.append(r.pk)
        return "finished"

    assert job_execute(CandleImport, run.pk, work) == "succeeded"
    assert job_execute(CandleImport, run.pk, work) == "succeeded"
    assert calls == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.progress, run.message) == ("succeeded", 1.0, "finished")
    assert run.started_at <= run.finished_at


def test_failure_keeps_what_the_work_saved_before_it(run):
    def work(r, ctx):
        CandleImport.objects.filter(pk=r.pk).update(report={"partial": 3})
        ctx.progress(0.4, "halfway", force=True)
        raise RuntimeError("worker lost its data source")

    assert job_execute(CandleImport, run.pk, work) == "failed"
    run.refresh_from_db()
    assert run.report == {"partial": 3}
    assert run.progress == 0.4
    assert run.message == "failed: worker lost its data source"
    assert run.error == "RuntimeError: worker lost its data source"  # the traceback is in the log only


def _running(run):
    from django.utils import timezone

    type(run).objects.filter(pk=run.pk).update(status="running", started_at=timezone.now())
    run.refresh_from_db()
    return run


def test_progress_writes_are_throttled(run):
    ctx = JobContext(_running(run), interval_s=60)
    wrote = [ctx.progress(i / 100, f"step {i}") for i in range(100)]
    assert wrote.count(True) == 1 and ctx.writes == 1
    run.refresh_from_db()
    assert (run.progress, run.message) == (0.0, "step 0")
    assert ctx.progress(0.9, "forced", force=True)
    run.refresh_from_db()
    assert (run.progress, run.message) == (0.9, "forced")
    assert run.heartbeat_at is not None


def test_cancel_before_start_means_it_never_runs(run):
    assert job_cancel(run=run).status == "cancelled"
    assert job_execute(CandleImport, run.pk, lambda r, ctx: pytest.fail("must not run")) == "cancelled"
    with pytest.raises(DomainError, match=r"only a queued or running run can be cancelled \(this one is cancelled\)"):
        job_cancel(run=run)  # a finished run: said so, not a silent 200 with the run unchanged


def test_cancel_while_running_stops_at_the_next_report(run):
    seen = []

    def work(r, ctx):
        for step in range(10):
            if step == 3:
                job_cancel(run=r)  # as a user would, from another request
            ctx.progress(step / 10, force=True)
            seen.append(step)
        return "should not finish"

    assert job_execute(CandleImport, run.pk, work) == "cancelled"
    assert seen == [0, 1, 2]
    run.refresh_from_db()
    assert run.status == "cancelled" and run.finished_at is not None


def test_a_late_finish_of_a_reaped_attempt_does_not_overwrite_the_new_one(run):
    from django.utils import timezone

    def work(r, ctx):
        # Meanwhile this attempt was reaped as dead and the run resumed: a new attempt now runs it.
        CandleImport.objects.filter(pk=r.pk).update(
            status="running", started_at=timezone.now() + timezone.timedelta(seconds=5)
        )
        raise RuntimeError("the old attempt finally fails")

    assert job_execute(CandleImport, run.pk, work) == "failed"
    run.refresh_from_db()
    assert run.status == "running" and run.error == ""  # the new attempt's row is untouched


def test_a_run_whose_worker_died_can_be_cancelled_and_is_reaped(user, settings, capsys, import_run):
    import json
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    settings.FOREXGPT_JOB_STALE_MINUTES = 15
    long_ago = timezone.now() - timedelta(minutes=20)
    dead, alive, dead2 = (import_run(user) for _ in range(3))
    CandleImport.objects.filter(pk__in=[dead.pk, dead2.pk]).update(status="running", heartbeat_at=long_ago)
    CandleImport.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=timezone.now())
    assert job_cancel(run=dead, user=user).status == "cancelled"
    alive = job_cancel(run=alive, user=user)
    assert alive.status == "running" and alive.cancel_requested
    call_command("reap_stale_jobs", "--json")
    assert json.loads(capsys.readouterr().out)["marketdata.CandleImport"] == 1
    dead2.refresh_from_db()
    assert dead2.status == "failed" and "worker stopped reporting" in dead2.message


def test_an_attempt_whose_run_was_reaped_or_resumed_writes_no_progress(run):
    from django.utils import timezone

    from forexgpt_site.jobs import JobSuperseded

    ctx = JobContext(_running(run))
    assert ctx.progress(0.2, "mine", force=True)
    type(run).objects.filter(pk=run.pk).update(started_at=timezone.now())  # resumed: another attempt's row now
    with pytest.raises(JobSuperseded, match="no longer running under this attempt"):
        ctx.progress(0.6, "late", force=True)
    with pytest.raises(JobSuperseded):
        ctx.check_attempt()
    run.refresh_from_db()
    assert (run.progress, run.message) == (0.2, "mine")


@pytest.mark.django_db(transaction=True)
def test_a_running_job_s_heartbeat_is_stamped_while_it_reports_nothing(user, settings, import_run):
    import time as clock

    settings.FOREXGPT_JOB_HEARTBEAT_S = 0.1
    run = import_run(user)
    beats = []

    def silent(r, ctx):  # one long computation, no progress report
        first = CandleImport.objects.get(pk=r.pk).heartbeat_at
        clock.sleep(0.6)
        beats.append((first, CandleImport.objects.get(pk=r.pk).heartbeat_at))
        return "done"

    assert job_execute(CandleImport, run.pk, silent) == "succeeded"
    first, later = beats[0]
    assert later > first  # stamped by the worker's heartbeat thread meanwhile


def test_a_long_message_is_cut_between_words_and_says_so():
    from forexgpt_site.jobs import clipped

    long = "failed: 4,976 bar(s) are already stored with other values (first: 2017-04-19T09:00:00+00:00) " * 4
    cut = clipped(long)
    assert len(cut) <= 255 and cut.endswith("...") and long.startswith(cut[:-3])
    assert long[len(cut) - 3] == " " or long[len(cut) - 3] in ",;:-"  # the next character ends a word
    assert clipped("short") == "short"
