"""A forecast set stores its request whole (`request`, ForecastRequest.to_dict() with the version it
resolved to); samples, seed, steps and sampler are filled into it and removed. The series, range and
the version's reference stay columns (lists, filters, labels)."""

from django.db import migrations, models

MOVED = ("samples", "seed", "steps", "sampler")


def _iso(value):
    return value.isoformat() if value is not None else None


def fill_requests(apps, schema_editor):
    ForecastSet = apps.get_model("forecasts", "ForecastSet")
    for fs in ForecastSet.objects.all().iterator():
        request = {"artifact": fs.artifact_ref, "symbol": fs.symbol, "timeframe": fs.timeframe, "start": _iso(fs.start),
                   "end": _iso(fs.end), **{name: getattr(fs, name) for name in MOVED}}
        ForecastSet.objects.filter(pk=fs.pk).update(request=request)


def fill_columns(apps, schema_editor):
    ForecastSet = apps.get_model("forecasts", "ForecastSet")
    for fs in ForecastSet.objects.all().iterator():
        ForecastSet.objects.filter(pk=fs.pk).update(**{name: fs.request[name] for name in MOVED if name in fs.request})


class Migration(migrations.Migration):

    dependencies = [("forecasts", "0004_forecastset_overlap")]

    operations = [
        migrations.AddField(
            model_name="forecastset",
            name="request",
            field=models.JSONField(blank=True, default=dict, help_text="what the run was asked to do: its checked request's to_dict()"),
        ),
        # samples and seed had no default: the columns a reverse migration adds back need one until they are filled
        migrations.AlterField(model_name="forecastset", name="samples", field=models.PositiveIntegerField(default=100)),
        migrations.AlterField(model_name="forecastset", name="seed", field=models.IntegerField(default=0)),
        migrations.RunPython(fill_requests, fill_columns),
        *[migrations.RemoveField(model_name="forecastset", name=name) for name in MOVED],
    ]
