# ForecastSet moves here from the training app: the table stays, only Django's state moves.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('registry', '0001_initial'),
        ('training', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ForecastSet',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('symbol', models.CharField(max_length=12)),
                        ('timeframe', models.CharField(max_length=8)),
                        ('first', models.DateTimeField()),
                        ('last', models.DateTimeField()),
                        ('rows', models.PositiveIntegerField()),
                        ('samples', models.PositiveIntegerField()),
                        ('seed', models.IntegerField()),
                        ('file', models.FileField(help_text='timestamp, pred_return, q05..q95, confidence', upload_to='forecasts/%Y/%m/')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('artifact_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='forecast_sets', to='registry.modelversion')),
                    ],
                    options={'ordering': ['-created_at'], 'db_table': 'training_forecastset'},
                ),
            ],
            database_operations=[],
        ),
    ]
