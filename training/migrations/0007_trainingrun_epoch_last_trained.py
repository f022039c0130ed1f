"""A run's `epoch` is the last epoch trained, 0-based (as while it trains); runs that ended before
2026-12-08 stored Lightning's `current_epoch` after training, one past it ("epoch 2 of 1" on the page).
Every stored epoch at or past the run's own number of epochs is moved back to its last one."""

from django.db import migrations


def last_trained(apps, schema_editor):
    TrainingRun = apps.get_model("training", "TrainingRun")
    for run in TrainingRun.objects.filter(epoch__gt=0).iterator():
        epochs = (run.request or {}).get("epochs")
        if isinstance(epochs, int) and epochs > 0 and run.epoch >= epochs:
            TrainingRun.objects.filter(pk=run.pk).update(epoch=epochs - 1)


class Migration(migrations.Migration):
    dependencies = [("training", "0006_trainingrun_request")]

    operations = [migrations.RunPython(last_trained, migrations.RunPython.noop)]
