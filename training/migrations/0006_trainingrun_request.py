"""A training run stores its request whole (`request`, TrainingRequest.to_dict()); the columns only the
request needs are filled into it and removed. symbol, timeframe, start, end, horizon, denoiser and name
stay columns (lists, filters, admin, labels)."""

from django.db import migrations, models

MOVED = ("patch_len", "epochs", "batch_size", "members", "choices", "fast_dev_run", "seed", "model_name")
KEPT = ("symbol", "timeframe", "horizon", "denoiser", "name")


def _iso(value):
    return value.isoformat() if value is not None else None


def fill_requests(apps, schema_editor):
    TrainingRun = apps.get_model("training", "TrainingRun")
    for run in TrainingRun.objects.all().iterator():
        request = {**{name: getattr(run, name) for name in KEPT + MOVED}, "start": _iso(run.start), "end": _iso(run.end)}
        TrainingRun.objects.filter(pk=run.pk).update(request=request)


def fill_columns(apps, schema_editor):
    TrainingRun = apps.get_model("training", "TrainingRun")
    for run in TrainingRun.objects.all().iterator():
        TrainingRun.objects.filter(pk=run.pk).update(**{name: run.request[name] for name in MOVED if name in run.request})


class Migration(migrations.Migration):

    dependencies = [("training", "0005_trainingrun_members")]

    operations = [
        migrations.AddField(
            model_name="trainingrun",
            name="request",
            field=models.JSONField(blank=True, default=dict, help_text="what the run was asked to do: its checked request's to_dict()"),
        ),
        migrations.RunPython(fill_requests, fill_columns),
        *[migrations.RemoveField(model_name="trainingrun", name=name) for name in MOVED],
        migrations.AlterField(model_name="trainingrun", name="denoiser", field=models.CharField(default="transformer", max_length=12)),
        migrations.AlterField(model_name="trainingrun", name="horizon",
                              field=models.PositiveIntegerField(default=12, help_text="bars forecast")),
    ]
