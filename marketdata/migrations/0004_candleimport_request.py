"""An import stores its request whole (`request`, ImportRequest.to_dict()); the uploads and command
imports made before are filled from their columns. The columns stay: demo and resample rows, which
are no requests, use them."""

from django.db import migrations, models

FIELDS = ("symbol", "timeframe", "tz", "format", "drop", "on_conflict")


def fill_requests(apps, schema_editor):
    CandleImport = apps.get_model("marketdata", "CandleImport")
    for run in CandleImport.objects.filter(origin__in=["upload", "command"]).iterator():
        CandleImport.objects.filter(pk=run.pk).update(request={name: getattr(run, name) for name in FIELDS})


class Migration(migrations.Migration):

    dependencies = [("marketdata", "0003_candleimport_published")]

    operations = [
        migrations.AddField(
            model_name="candleimport",
            name="request",
            field=models.JSONField(blank=True, default=dict, help_text="what the run was asked to do: its checked request's to_dict()"),
        ),
        migrations.RunPython(fill_requests, migrations.RunPython.noop),
    ]
