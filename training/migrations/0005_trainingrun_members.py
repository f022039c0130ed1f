from django.db import migrations, models


class Migration(migrations.Migration):
    """Runs stored before ensembles trained one network: they get 1; new runs default to 2."""

    dependencies = [("training", "0004_default_six_epochs_of_256")]

    operations = [
        migrations.AddField(model_name="trainingrun", name="members",
                            field=models.PositiveIntegerField(default=1, help_text="networks trained side by side and sampled as one mixture")),
        migrations.AlterField(model_name="trainingrun", name="members",
                              field=models.PositiveIntegerField(default=2, help_text="networks trained side by side and sampled as one mixture")),
    ]
