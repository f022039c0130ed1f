"""Every bar points at the import that wrote it (replacing the free-text `source`); imports record
their origin and conflict policy. Existing bars are linked to an import per (series, source label):
the matching uploaded import where one succeeded, else a new row recording the label."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone


def _import_for(CandleImport, symbol: str, timeframe: str, source: str):
    fmt, sep, name = source.partition(":")
    now = timezone.now()
    common = {"symbol": symbol, "timeframe": timeframe, "status": "succeeded", "progress": 1.0, "finished_at": now,
              "message": "recorded by migration 0002 from the bars' source label", "on_conflict": "keep"}
    if source.startswith("demo:"):
        existing = CandleImport.objects.filter(origin="demo", symbol=symbol, timeframe=timeframe).first()
        return existing or CandleImport.objects.create(origin="demo", original_name=name, format="demo", **common)
    if source.startswith("resampled from"):
        return CandleImport.objects.create(origin="resample", original_name=source, format="resample", **common)
    if not sep:
        fmt, name = "auto", source or "unrecorded source"
    uploaded = (CandleImport.objects.filter(symbol=symbol, timeframe=timeframe, original_name=name, status="succeeded")
                .order_by("-created_at").first())
    return uploaded or CandleImport.objects.create(origin="command", original_name=name, format=fmt[:12], **common)


def _constraints_now(schema_editor):
    """PostgreSQL checks deferred foreign keys at commit; the ALTER TABLE that follows in this
    migration's transaction refuses to run while such checks are pending ("pending trigger events")."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def link_bars(apps, schema_editor):
    Candle = apps.get_model("marketdata", "Candle")
    CandleImport = apps.get_model("marketdata", "CandleImport")
    for symbol, timeframe, source in Candle.objects.values_list("symbol", "timeframe", "source").distinct().order_by():
        run = _import_for(CandleImport, symbol, timeframe, source)
        Candle.objects.filter(symbol=symbol, timeframe=timeframe, source=source).update(candle_import=run)
    _constraints_now(schema_editor)


def label_bars(apps, schema_editor):
    Candle = apps.get_model("marketdata", "Candle")
    CandleImport = apps.get_model("marketdata", "CandleImport")
    for run in CandleImport.objects.filter(pk__in=Candle.objects.values("candle_import_id")):
        fmt = (run.report or {}).get("format") or run.format
        label = run.original_name if run.origin == "resample" else f"{fmt}:{run.original_name}"
        Candle.objects.filter(candle_import=run).update(source=label[:120])
    _constraints_now(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("marketdata", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="candleimport",
            name="origin",
            field=models.CharField(choices=[("upload", "uploaded file"), ("command", "import_candles"), ("demo", "demo data"), ("resample", "resample")], default="upload", max_length=10),
        ),
        migrations.AddField(
            model_name="candleimport",
            name="on_conflict",
            field=models.CharField(choices=[("refuse", "refuse the file and report the conflicts (nothing is written)"), ("keep", "keep the stored bars (import only the new ones)"), ("replace", "replace the stored bars with the file's")], default="refuse", help_text="what to do with bars already stored with other values", max_length=8),
        ),
        migrations.AlterField(
            model_name="candleimport",
            name="file",
            field=models.FileField(blank=True, help_text="the uploaded file; blank for other origins", upload_to="imports/%Y/%m/"),
        ),
        migrations.AddField(
            model_name="candle",
            name="candle_import",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="candles", to="marketdata.candleimport", help_text="the import that wrote this bar"),
        ),
        migrations.RunPython(link_bars, label_bars),
        migrations.AlterField(
            model_name="candle",
            name="candle_import",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="candles", to="marketdata.candleimport", help_text="the import that wrote this bar"),
        ),
        migrations.RemoveField(
            model_name="candle",
            name="source",
        ),
    ]
