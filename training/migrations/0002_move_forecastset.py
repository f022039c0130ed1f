# ForecastSet now belongs to the forecasts app (same table, renamed there).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0001_initial'),
        ('forecasts', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name='ForecastSet')], database_operations=[]),
    ]
