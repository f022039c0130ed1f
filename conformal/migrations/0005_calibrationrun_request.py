"""A calibration run stores its request whole (`request`, CalibrationRequest.to_dict()); its `params`
are filled into it and removed. name, method and alpha stay columns (lists, labels, selectors), the
forecast set and the model version relations."""

from django.db import migrations, models

PARAMS = ("cal_size", "window", "gamma", "lr", "score")


def fill_requests(apps, schema_editor):
    CalibrationRun = apps.get_model("conformal", "CalibrationRun")
    for run in CalibrationRun.objects.all().iterator():
        params = run.params or {}
        request = {"method": run.method, "alpha": run.alpha, **{name: params.get(name) for name in PARAMS},
                   "forecast_set": run.forecast_set_id, "artifact": "", "name": run.name}
        CalibrationRun.objects.filter(pk=run.pk).update(request=request)


def fill_columns(apps, schema_editor):
    CalibrationRun = apps.get_model("conformal", "CalibrationRun")
    for run in CalibrationRun.objects.all().iterator():
        params = {name: run.request[name] for name in PARAMS if run.request.get(name) is not None}
        CalibrationRun.objects.filter(pk=run.pk).update(params=params)


class Migration(migrations.Migration):

    dependencies = [("conformal", "0004_method_names")]

    operations = [
        migrations.AddField(
            model_name="calibrationrun",
            name="request",
            field=models.JSONField(blank=True, default=dict, help_text="what the run was asked to do: its checked request's to_dict()"),
        ),
        migrations.RunPython(fill_requests, fill_columns),
        migrations.RemoveField(model_name="calibrationrun", name="params"),
    ]
