from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("training", "0004_default_six_epochs_of_256")]

    operations = [
        migrations.AddField(model_name="trainingrun", name="members",
                            field=models.PositiveIntegerField(default=1, help_text="networks trained side by side and sampled as one mixture")),
    ]
