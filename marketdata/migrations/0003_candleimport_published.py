"""Imports write their bars unseen and then publish them together (`published`). The imports
already stored wrote theirs in one transaction: they are published."""

from django.db import migrations, models


def publish_existing(apps, schema_editor):
    apps.get_model("marketdata", "CandleImport").objects.update(published=True)


class Migration(migrations.Migration):

    dependencies = [
        ("marketdata", "0002_candle_import_provenance"),
    ]

    operations = [
        migrations.AddField(
            model_name="candleimport",
            name="published",
            field=models.BooleanField(default=False, help_text="its bars are visible: they are written while this is false, unseen by every reader, and appear together when it turns true"),
        ),
        migrations.RunPython(publish_existing, migrations.RunPython.noop),
    ]
