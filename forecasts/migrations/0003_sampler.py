# Sets made before DPM-Solver++ became the default were sampled with DDIM: they keep it, so a
# resumed one still makes the same rows.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('forecasts', '0002_forecast_runs'),
    ]

    operations = [
        migrations.AddField(
            model_name='forecastset',
            name='sampler',
            field=models.CharField(default='ddim', max_length=12),
        ),
        migrations.AlterField(
            model_name='forecastset',
            name='sampler',
            field=models.CharField(default='dpmpp2m', help_text='the diffusion sampler (kept so a resumed run makes the same rows)', max_length=12),
        ),
        migrations.AlterField(
            model_name='forecastset',
            name='steps',
            field=models.PositiveIntegerField(default=6, help_text='model evaluations per sample path'),
        ),
    ]
